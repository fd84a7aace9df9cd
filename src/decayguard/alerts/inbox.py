"""A local JSON webhook that keeps what it receives: the alert target of the demo and tests.

Point apprise at it with ``json://127.0.0.1:<port>/<path>``::

    with WebhookInbox() as inbox:
        AppriseNotifier([inbox.apprise_url]).send(...)
        inbox.messages  # [{"title": ..., "message": ..., "type": ...}]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookInbox:
    """An HTTP server on a free loopback port, in a background thread."""

    def __init__(self, path: str = "alerts") -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    message = json.loads(body)
                except ValueError:
                    message = {"raw": body.decode(errors="replace")}
                with inbox._lock:
                    inbox.messages.append(message)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/{self.path}"

    def start(self) -> WebhookInbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookInbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
