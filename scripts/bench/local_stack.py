"""What the local-stack benchmarks share: the emulator's request counts, a receiver that
notes when the end message arrives, and AWS list prices (us-east-1, as published in 2025,
USD)."""
import collections
import http.server
import json
import threading
import time
import urllib.request

LAMBDA_GB_S = 0.0000133334  # arm64
LAMBDA_REQUEST = 0.20 / 1e6
S3_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1000  # GET and the rest
SQS_STANDARD = 0.40 / 1e6
SQS_FIFO = 0.50 / 1e6
DYNAMO_WRU = 0.625 / 1e6  # on demand
DYNAMO_RRU = 0.125 / 1e6


def requests(endpoint, reset=False):
    """The emulator's request counts by `service.Operation` (scripts/emulator.py); `reset`
    answers them and starts counting again."""
    request = urllib.request.Request(f"{endpoint}/folio-emulator/requests", method="POST" if reset else "GET")
    with urllib.request.urlopen(request, timeout=60) as response:
        return collections.Counter(json.loads(response.read()))


class EndReceiver:
    """A webhook receiver on loopback: `ended` is set, and `at` holds the monotonic time,
    when the first message arrives."""

    def __init__(self):
        self.ended, self.at = threading.Event(), []
        receiver = self

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.at.append(time.monotonic())
                receiver.ended.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"


def report(path, lines, cost, per):
    """Appends `lines` and the cost table (`cost`: item -> USD, per 1,000 `per`) to the
    report at `path`, and prints them."""
    lines = lines + [f"| item | USD per 1,000 {per} |", "|---|---|"]
    lines += [f"| {name} | {usd:.5f} |" for name, usd in cost.items()]
    lines += [f"| **total** | **{sum(cost.values()):.4f}** |", ""]
    with path.open("a") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))
