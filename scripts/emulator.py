"""The local stack's AWS emulator: moto's server, with DynamoDB requests applied one at a time,
and every request counted by service and operation.

moto's DynamoDB checks a condition and writes an item in several Python steps, and its server
answers requests on many threads, so two conditional writes to one item at once can both pass
their conditions (a lost increment, a lost list append). DynamoDB applies each write to an
item atomically, and Folio's counters, version checks and appends rely on it; serializing the
emulator's DynamoDB requests gives the local stack and the tests the same guarantee. Every
other service is served as moto serves it, on many threads.

`GET /folio-emulator/requests` answers the counts (`{"sqs.SendMessageBatch": 3, ...}`) since
the last `POST` to the same path; the job benchmark counts a job's AWS requests with it.
"""
import argparse
import collections
import io
import json
import re
import threading
import urllib.parse

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

COUNTS_PATH = "/folio-emulator/requests"
S3_METHODS = {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}


def operation(environ):
    """`service.Operation` of a request, as AWS bills it."""
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    scope = environ.get("HTTP_AUTHORIZATION", "") or query.get("X-Amz-Credential", [""])[0]
    service = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", "Credential=" + scope.split("Credential=")[-1])
    service = service.group(1) if service else "?"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{service}.{target.split('.')[-1]}"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}.{action}"
    method = environ.get("REQUEST_METHOD", "?")
    if service == "s3":
        if method == "GET" and "list-type" in query:
            return "s3.ListObjectsV2"
        if method == "POST" and "delete" in query:
            return "s3.DeleteObjects"
        if "uploads" in query or "uploadId" in query:
            return "s3.MultipartUpload"
        return f"s3.{S3_METHODS.get(method, method)}"
    return f"{service}.{method}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    args = parser.parse_args()

    moto = DomainDispatcherApplication(create_backend_app)
    moto.debug = True
    dynamodb = threading.Lock()
    counted = threading.Lock()
    counts = collections.Counter()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with counted:
                body = json.dumps(counts).encode()
                if environ.get("REQUEST_METHOD") == "POST":
                    counts.clear()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if not environ.get("PATH_INFO", "").startswith("/moto-api/"):
            name = operation(environ)
            with counted:
                counts[name] += 1
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The whole answer is made inside the lock.
                return list(moto(environ, start_response))
        return moto(environ, start_response)

    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
