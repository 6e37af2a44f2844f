"""Serve the dashboard page, and nothing else: ``GET /`` (or the page's own name) answers the one file written by
:func:`dashboard.build.build`; every other path is 404 and no folder is ever listed. The page may be written next
to the warehouse (``dagster_home/``): a handler serving its folder would hand out ``warehouse.sqlite`` whole.

The page is read from disk on each request, so a rebuild shows on the next reload; it is a self-contained HTML file
(no scripts or styles of its own beside it).
"""

from __future__ import annotations

import http.server
from pathlib import Path


class OnePageHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``GET``/``HEAD`` of ``/`` and ``/<page name>`` with the page; 404 for any other path, 405 for any
    other method (``BaseHTTPRequestHandler`` answers 501 to a method it has no ``do_*`` for)."""

    page: Path  # set on the subclass made by :func:`handler_for`
    server_version = "approval-bridge-dashboard"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _refuse(self) -> None:
        self.send_error(405, "only GET and HEAD")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _answer(self, with_body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path not in ("/", f"/{self.page.name}"):
            self.send_error(404, "the dashboard serves one page: /")
            return
        try:
            body = self.page.read_bytes()
        except OSError:
            self.send_error(503, "the dashboard page is being written: reload in a moment")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request on stderr is noise on an operator's terminal


def handler_for(page: Path) -> type[OnePageHandler]:
    """A handler class serving ``page`` only."""
    return type("DashboardPage", (OnePageHandler,), {"page": page.resolve()})
