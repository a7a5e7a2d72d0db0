"""A tiny HTTP BitTorrent tracker for the benchmark: every announce gets the same peer list.

Serves `/announce` on 127.0.0.1 from a thread; the answer is a bencoded compact peer list.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def bencode_peers(peers: list[tuple[str, int]], interval: int = 1800) -> bytes:
    """`d8:intervali<n>e5:peers<len>:<6 bytes per IPv4 peer>e`."""
    compact = b"".join(socket.inet_aton(host) + struct.pack(">H", port) for host, port in peers)
    return b"d8:intervali%de5:peers%d:" % (interval, len(compact)) + compact + b"e"


class Tracker:
    """Start with `Tracker(peers)`; `url` is the announce URL; `close()` stops it."""

    def __init__(self, peers: list[tuple[str, int]]) -> None:
        self.peers = peers
        self.announces = 0
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith("/announce"):
                    self.send_error(404)
                    return
                tracker.announces += 1
                body = bencode_peers(tracker.peers)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # libtorrent may hang up once it has the reply
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/announce"
        self._thread = threading.Thread(target=self._server.serve_forever, name="tracker", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
