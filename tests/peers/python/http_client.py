"""HTTP keep-alive peers for kalab's interop tests, standard library only (http.client).

Usage: http_client.py session|fresh|own-server N, with the port in $KALAB_PORT
(`kalab observe --serve -- python3 http_client.py session 5`).

session:    one HTTPConnection reused for N requests (one TCP connection).
fresh:      a new HTTPConnection for every request, closed after it (N connections).
own-server: like session, against an HTTP/1.1 keep-alive server this program starts itself on
            127.0.0.1:$KALAB_PORT (observe it without --serve: `kalab observe --port P`).
Every response body is read to its end. Prints `mode=MODE ok=K`; exits 1 unless every request
got a 200.
"""

import http.client
import http.server
import os
import sys
import threading
import time


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a small body and keeps the connection open."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        body = b"hello kalab"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        pass


def main() -> int:
    mode, count = sys.argv[1], int(sys.argv[2])
    port = int(os.environ["KALAB_PORT"])
    if mode == "own-server":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), KeepAliveHandler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    reuse = mode in ("session", "own-server")
    ok = 0
    session = http.client.HTTPConnection("127.0.0.1", port, timeout=10) if reuse else None
    for i in range(count):
        if i:
            time.sleep(0.01)
        conn = session or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        ok += response.status == 200
        if session is None:
            conn.close()
    if session is not None:
        session.close()
    print(f"mode={mode} ok={ok}", flush=True)
    return 0 if ok == count else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("session", "fresh", "own-server"):
        print("usage: http_client.py session|fresh|own-server N", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
