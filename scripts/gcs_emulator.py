"""A Google Cloud Storage emulator for the storage tests: gcp-storage-emulator (PyPI), with
what Folio's client (object_store, which speaks GCS's XML API) needs of the real service
added where the emulator leaves it out, and the credentials checked as GCS checks them.

- An upload answers with the object's ETag and generation; a download with its ETag and
  Last-Modified (object_store reads them).
- `x-goog-if-generation-match: 0` makes an upload conditional: 412 when the object exists
  (how Folio refuses to overwrite).
- Escaped unreserved characters in the path are read as themselves, as GCS reads them.
- A request with a bearer token must carry a JWT signed by the service account whose public
  key was given (`--public-key`, `--client-email`): anything else is 401, as GCS answers a
  wrong key. Requests without a token (the test's own checks, made with Google's client)
  pass.

usage: gcs_emulator.py --port N --public-key PEM --client-email EMAIL
"""

import argparse
import base64
import json
import logging
import re
from email.utils import formatdate
from http import HTTPStatus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from gcp_storage_emulator import server as emulator
from gcp_storage_emulator.handlers import objects

ARGS = None


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_is_valid(token):
    try:
        header, claims, signature = token.split(".")
        key = serialization.load_pem_public_key(open(ARGS.public_key, "rb").read())
        key.verify(b64url(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(),
                   hashes.SHA256())
        return json.loads(b64url(claims)).get("iss") == ARGS.client_email
    except (ValueError, InvalidSignature):
        return False


def object_headers(request, response, storage):
    try:
        obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
    except Exception:  # noqa: BLE001 - absent: nothing to add
        return
    response["ETag"] = '"{}"'.format(obj.get("md5Hash", ""))
    response["x-goog-generation"] = str(obj.get("generation", "1"))
    response["Last-Modified"] = formatdate(usegmt=True)


original_upload = objects.xml_upload
original_download = objects.download


def xml_upload(request, response, storage, *args, **kwargs):
    if request.get_header("x-goog-if-generation-match", None) == "0":
        try:
            storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
            response.status = HTTPStatus.PRECONDITION_FAILED
            response.write("<Error><Code>PreconditionFailed</Code></Error>")
            return
        except Exception:  # noqa: BLE001 - absent: the upload goes ahead
            pass
    original_upload(request, response, storage, *args, **kwargs)
    if response.status in (None, HTTPStatus.OK):
        object_headers(request, response, storage)


def download(request, response, storage, *args, **kwargs):
    object_headers(request, response, storage)
    original_download(request, response, storage, *args, **kwargs)


original_handle = emulator.Router.handle


UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def unreserved(match):
    char = chr(int(match.group(1), 16))
    return char if char in UNRESERVED else match.group(0)


def handle(self, method):
    # object_store escapes even unreserved characters (`-` as %2D): the same URL to GCS,
    # but the emulator's routes match the bucket name literally.
    self._request_handler.path = re.sub(r"%([0-9A-Fa-f]{2})", unreserved,
                                        self._request_handler.path)
    auth = self._request_handler.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and not token_is_valid(auth[len("Bearer "):]):
        handler = self._request_handler
        body = json.dumps({"error": {"code": 401, "message": "Invalid Credentials"}}).encode()
        handler.send_response(401)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return
    original_handle(self, method)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--client-email", required=True)
    ARGS = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    objects.xml_upload = xml_upload
    objects.download = download
    # The route table holds the handlers themselves: point it at the ones above.
    for _, handlers in emulator.HANDLERS:
        for method, handler in list(handlers.items()):
            if handler is original_upload:
                handlers[method] = xml_upload
            elif handler is original_download:
                handlers[method] = download
    emulator.Router.handle = handle
    emulator.create_server(ARGS.host, ARGS.port, in_memory=True).run()


if __name__ == "__main__":
    main()
