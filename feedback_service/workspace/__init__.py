"""The editors' workspace under ``/redaktion/``: log in, moderate, answer, track, audit."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from . import views

STATIC = Path(__file__).resolve().parent.parent / "static" / "redaktion"

_ITEM = "/beitraege/{comment_id}"

ROUTES = [
    Route("/", views.queue_page, methods=["GET"]),
    Route("/anmelden", views.login_form, methods=["GET"]),
    Route("/anmelden", views.login, methods=["POST"]),
    Route("/abmelden", views.logout, methods=["POST"]),
    Route("/protokoll", views.audit_page, methods=["GET"]),
    Route("/sammelaktion", views.bulk, methods=["POST"]),
    Route(f"{_ITEM}/freigeben", views.approve, methods=["POST"]),
    Route(f"{_ITEM}/ablehnen", views.reject, methods=["POST"]),
    Route(f"{_ITEM}/loeschen", views.delete, methods=["POST"]),
    Route(f"{_ITEM}/antworten", views.answer, methods=["POST"]),
    Route(f"{_ITEM}/stand", views.progress, methods=["POST"]),
    Mount("/static", app=StaticFiles(directory=STATIC), name="redaktion-static"),
]


def mount() -> list:
    """The routes to put into the service's application, before the site's catch-all."""
    return [
        Route("/redaktion", views.to_queue),
        Mount("/redaktion", app=Router(routes=ROUTES)),
    ]
