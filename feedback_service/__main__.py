"""``python -m feedback_service``: see :mod:`feedback_service.cli`."""

import gc
import sys

if sys.argv[1:2] == ["sync"]:
    # Sphinx's warm process (the sync's builds) starts loading before the service's own
    # modules: they take a tenth of a second to import, time the builds would wait for.
    from handbook_editions.workers import warm_up

    warm_up()

from .cli import main  # noqa: E402 - after the warm-up on purpose

code = main()
# What is still loaded goes with the process: the interpreter's closing collections need not walk it
# first (a quarter of a sync's exit). `serve` has stopped its workers by now.
gc.freeze()
sys.exit(code)
