#!/usr/bin/env python3
"""A webhook receiver for trying Folio locally: prints every POST it gets, and checks the
Folio-Signature header when given the tenant's secret (from GetWebhookSecret).

    python3 scripts/webhook_receiver.py --port 8081 --secret "$SECRET"
"""
import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def signature_ok(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(parts["t"])) <= tolerance and hmac.compare_digest(expected, parts["v1"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            signature = self.headers.get("Folio-Signature", "")
            verdict = "signature valid" if args.secret and signature_ok(args.secret, signature, body) else (
                "signature INVALID" if args.secret else "signature not checked")
            print(f"{self.headers.get('Folio-Event-Type', '')} {verdict}", flush=True)
            print(json.dumps(json.loads(body), indent=2), flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
