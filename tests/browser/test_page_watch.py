"""The watch every browser test relies on notices what it must notice."""

from __future__ import annotations

import pytest

from .helpers import watched_page

pytestmark = pytest.mark.browser


def test_watch_notices_requests_to_other_hosts_and_script_errors(browser, service):
    # The service's Content-Security-Policy would block the foreign request before
    # it is made; the watch itself is tested with the policy set aside.
    page, watch = watched_page(browser, service.url, bypass_csp=True)
    try:
        page.goto("/latest/")
        assert watch.foreign_requests == [] and watch.script_errors == []
        # Another loopback address: a different host, and no traffic leaves the machine.
        elsewhere = "http://127.0.0.2:9/pixel.png"
        with page.expect_request(elsewhere):
            page.evaluate(f"() => {{ const image = new Image(); image.src = {elsewhere!r}; }}")
        page.evaluate("() => setTimeout(() => { throw new Error('kaputt'); })")
        page.wait_for_timeout(200)
    finally:
        page.context.close()
    assert watch.foreign_requests == [elsewhere]
    assert any("kaputt" in error for error in watch.script_errors)


def test_the_content_security_policy_blocks_requests_to_other_hosts(browser, service):
    page, _ = watched_page(browser, service.url)
    try:
        page.goto("/latest/")
        violated = page.evaluate("""() => new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation",
                                      (event) => resolve(event.effectiveDirective), {once: true});
            const image = new Image();
            image.src = "http://127.0.0.2:9/pixel.png";
            setTimeout(() => resolve(null), 3000);
        })""")
    finally:
        page.context.close()
    assert violated == "img-src"
