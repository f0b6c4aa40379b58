#!/usr/bin/python3
"""A loopback HTTP server for delivery's tests: records every POST, can fail on demand.

  http_sink.py --outdir DIR [--fail-code 503 --fail-times N]

Binds 127.0.0.1 on a port the kernel picks and writes it to DIR/port (renamed into place, so a
reader never sees half of it). Each accepted POST becomes DIR/NNNN.body (the raw body) and
DIR/NNNN.path (the request path); the .body is renamed into place last. The first N POSTs (-1:
all) are answered with --fail-code and not recorded. SIGTERM exits 0.
"""

import argparse
import http.server
import os
import signal
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--outdir", required=True)
    p.add_argument("--fail-code", type=int, default=0)
    p.add_argument("--fail-times", type=int, default=0)
    args = p.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    state = {"failed": 0, "saved": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            failing = args.fail_code and (args.fail_times < 0 or state["failed"] < args.fail_times)
            if failing:
                state["failed"] += 1
                self.send_response(args.fail_code)
                self.end_headers()
                self.wfile.write(b"failure injected by http_sink\n")
                return
            state["saved"] += 1
            base = os.path.join(args.outdir, "%04d" % state["saved"])
            with open(base + ".path", "w") as f:
                f.write(self.path)
            with open(base + ".tmp", "wb") as f:
                f.write(body)
            os.replace(base + ".tmp", base + ".body")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, fmt, *a):
            sys.stderr.write("http_sink: " + (fmt % a) + "\n")

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(os.path.join(args.outdir, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(os.path.join(args.outdir, "port.tmp"), os.path.join(args.outdir, "port"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
