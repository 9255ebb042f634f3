"""A throwaway HTTP server on 127.0.0.1 for download tests: no test touches the internet."""

import contextlib
import http.server
import threading
from typing import Dict, Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    files: Dict[str, bytes] = {}
    truncate_at: Dict[str, int] = {}
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated transfer announces the full length, then the connection drops.
        self.wfile.write(body[: self.truncate_at.get(self.path, len(body))])

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(files: Dict[str, bytes], truncate_at: Dict[str, int] = None) -> Iterator[tuple]:
    """Serve `files` (URL path -> bytes); yield (base URL, list of requested paths)."""
    handler = type("Handler", (_Handler,), {"files": files, "truncate_at": truncate_at or {}, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
