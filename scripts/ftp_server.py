"""An FTP server for the storage tests (pyftpdlib): plain, or with --cert and --key one that
requires explicit FTPS (AUTH TLS, then TLS on every data connection too); one user whose home
is --root.

A plain server's PASV replies name a documentation address (192.0.2.1) that nothing
answers on: a client that followed them, instead of using the address it connected to,
would fail. Folio must not follow them (a server could otherwise point it at a third host).

usage: ftp_server.py --root DIR --user U --password P --port N [--cert PEM --key PEM]
"""

import argparse
import logging

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import ThreadedFTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    authorizer = DummyAuthorizer()
    # e: cd, l: list, r: read, a: append, d: delete, f: rename, m: mkdir, w: write
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmw")

    if args.cert:
        class Handler(TLS_FTPHandler):
            pass

        Handler.certfile = args.cert
        Handler.keyfile = args.key
        Handler.tls_control_required = True
        Handler.tls_data_required = True
    else:
        class Handler(FTPHandler):
            pass

        Handler.masquerade_address = "192.0.2.1"
    Handler.authorizer = authorizer
    ThreadedFTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
