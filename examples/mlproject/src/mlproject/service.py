"""A tiny HTTP service with a /health endpoint (standard library only)."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from mlproject import __version__


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"status": "ok", "version": __version__})
        else:
            self._reply(404, {"status": "not found"})

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"request {self.path}\n")


def serve(port: int) -> None:
    """Serve on 127.0.0.1 until stopped."""
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def healthy() -> bool:
    """A health probe for proofyard's smoke suite: the quantiser round-trips."""
    import numpy as np

    from mlproject.quantize import WeightQuantizer, relative_error

    weights = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
    quantizer = WeightQuantizer()
    return relative_error(weights, quantizer.decompress(quantizer.compress(weights))) < 0.01
