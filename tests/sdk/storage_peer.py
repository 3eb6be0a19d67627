"""The storage tests' other side: each provider's own client puts a file where a job will read
it, and reads back what a job wrote. Google's `google-cloud-storage`, Microsoft's
`azure-storage-blob`, and Python's `ftplib` (FTPS with the test CA).

usage: storage_peer.py put|get PROVIDER PLACE PATH FILE
  PROVIDER: googlecloud, azure, ftp or ftps; PLACE: the bucket or container ("-" for FTP).
  put uploads FILE to PATH (the bucket or container made if missing); get writes PATH's
  bytes to FILE, or exits 3 when there is no such object.
The servers' addresses come from the FOLIO_TEST_* variables `make test` sets.
"""

import ftplib
import os
import ssl
import sys

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key.
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")
FTP_USER, FTP_PASSWORD = "folio", "ftp-secret-of-folio"
MISSING = 3


def google(place):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    from google.api_core.exceptions import Conflict
    client = storage.Client(project="folio-tests", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": os.environ["FOLIO_TEST_GCS_URL"]})
    try:
        client.create_bucket(place)
    except Conflict:
        pass
    return client.bucket(place)


def azure(place):
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient
    url = f"{os.environ['FOLIO_TEST_AZURE_URL']}/{AZURITE_ACCOUNT}"
    service = BlobServiceClient(url, credential={"account_name": AZURITE_ACCOUNT,
                                                 "account_key": AZURITE_KEY})
    try:
        service.create_container(place)
    except ResourceExistsError:
        pass
    return service.get_container_client(place)


def ftp(secure):
    if secure:
        context = ssl.create_default_context(cafile=os.environ["FOLIO_TEST_FTP_CA"])
        session = ftplib.FTP_TLS(context=context)
        session.connect("127.0.0.1", int(os.environ["FOLIO_TEST_FTPS_PORT"]))
        session.auth()
        session.login(FTP_USER, FTP_PASSWORD)
        session.prot_p()
    else:
        session = ftplib.FTP()
        session.connect("127.0.0.1", int(os.environ["FOLIO_TEST_FTP_PORT"]))
        session.login(FTP_USER, FTP_PASSWORD)
        # The server's PASV replies name an address nothing answers on (see ftp_server.py).
        session.trust_server_pasv_ipv4_address = False
    return session


def put(provider, place, path, data):
    if provider == "googlecloud":
        google(place).blob(path).upload_from_string(data)
    elif provider == "azure":
        azure(place).upload_blob(path, data, overwrite=True)
    else:
        session = ftp(provider == "ftps")
        folder = ""
        for part in path.split("/")[:-1]:
            folder += part
            try:
                session.mkd(folder)
            except ftplib.error_perm:
                pass
            folder += "/"
        import io
        session.storbinary(f"STOR {path}", io.BytesIO(data))
        session.quit()


def get(provider, place, path):
    try:
        if provider == "googlecloud":
            from google.api_core.exceptions import NotFound
            try:
                return google(place).blob(path).download_as_bytes()
            except NotFound:
                return None
        if provider == "azure":
            from azure.core.exceptions import ResourceNotFoundError
            try:
                return azure(place).download_blob(path).readall()
            except ResourceNotFoundError:
                return None
        session = ftp(provider == "ftps")
        chunks = []
        try:
            session.retrbinary(f"RETR {path}", chunks.append)
        except ftplib.error_perm:
            return None
        session.quit()
        return b"".join(chunks)
    except Exception as e:  # noqa: BLE001 - reported, and the test fails on it
        print(f"{provider}: {e!r}", file=sys.stderr)
        raise


def main():
    action, provider, place, path, file = sys.argv[1:6]
    if action == "put":
        put(provider, place, path, open(file, "rb").read())
    else:
        data = get(provider, place, path)
        if data is None:
            sys.exit(MISSING)
        open(file, "wb").write(data)


if __name__ == "__main__":
    main()
