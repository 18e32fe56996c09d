"""bakery's example Python service: a page with the image version, /healthz, and /version.

Standard library only (http.server), so the image needs nothing beyond Debian's python3.
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("BAKERY_IMAGE_VERSION", "unknown")
GREETING = os.environ.get("APP_GREETING", "hello")
PORT = int(os.environ.get("APP_PORT", "8000"))


class Handler(BaseHTTPRequestHandler):
    server_version = "bakery-pyapp"

    def _send(self, status: int, body: str, kind: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/healthz":
            self._send(200, "ok\n", "text/plain")
        elif self.path == "/version":
            self._send(200, VERSION + "\n", "text/plain")
        elif self.path == "/":
            self._send(200, json.dumps({"greeting": GREETING, "version": VERSION}) + "\n",
                       "application/json")
        else:
            self._send(404, "not found\n", "text/plain")

    def log_message(self, fmt: str, *args: object) -> None:
        pass  # health probes every second would fill the log


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
