"""VOD's documented image upload, unchanged, against a running Folio (`folio serve`).

`CreateUploadImage` through the official VOD SDK, both answers Base64-decoded, then the OSS
SDK (`oss2`) writes the file with the credential: `put_object_from_file` (signature V1 and
V4) and `resumable_upload` in parts. Then every refusal the credential must give. Run by
the integration test `oss_upload` with the endpoint, an access key pair and files in the
environment; prints one JSON object of what it saw and exits non-zero on the first
unexpected answer.
"""

import base64
import hashlib
import json
import os
import tempfile
import time

import oss2
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_vod20170321 import models as vod_models
from alibabacloud_vod20170321.client import Client as VodClient

import report

ENDPOINT = os.environ["FOLIO_ENDPOINT"]
AK = os.environ["FOLIO_ACCESS_KEY_ID"]
SECRET = os.environ["FOLIO_ACCESS_KEY_SECRET"]
SMALL = os.environ["FOLIO_SMALL_JPEG"]
LARGE = os.environ["FOLIO_LARGE_JPEG"]
TOO_LARGE = os.environ["FOLIO_TOO_LARGE_FILE"]
EXPIRED_AUTH = json.loads(os.environ["FOLIO_EXPIRED_AUTH"])


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def vod():
    return VodClient(
        open_api_models.Config(
            access_key_id=AK, access_key_secret=SECRET, endpoint=ENDPOINT, protocol="http"
        )
    )


def create_upload(client, title):
    """CreateUploadImage, and its two answers decoded as VOD's documentation does."""
    created = client.create_upload_image(
        vod_models.CreateUploadImageRequest(image_type="default", image_ext="jpg", title=title)
    ).body
    upload_address = json.loads(base64.b64decode(created.upload_address).decode("utf-8"))
    upload_auth = json.loads(base64.b64decode(created.upload_auth).decode("utf-8"))
    return created.image_id, upload_address, upload_auth


# The next two functions are VOD's documented upload sample, as written there.
def init_oss_client(upload_auth, upload_address):
    auth = oss2.StsAuth(
        upload_auth["AccessKeyId"], upload_auth["AccessKeySecret"], upload_auth["SecurityToken"]
    )
    oss_client = oss2.Bucket(auth, upload_address["Endpoint"], upload_address["Bucket"])
    return oss_client


def upload_local_file(oss_client, upload_address, local_file):
    result = oss_client.put_object_from_file(upload_address["FileName"], local_file)
    return result


def wait_normal(client, image_id):
    infos = None
    for _ in range(150):
        infos = client.get_image_infos(vod_models.GetImageInfosRequest(image_ids=image_id)).body
        if infos.image_info and infos.image_info[0].status != "Uploading":
            break
        time.sleep(0.2)
    info = infos.image_info[0]
    expect(info.status == "Normal", f"{image_id}: Status {info.status}")
    return info


def status(client, image_id):
    infos = client.get_image_infos(vod_models.GetImageInfosRequest(image_ids=image_id)).body
    return infos.image_info[0].status


def refused(call):
    """The OSS error a call raises: (HTTP status, Code)."""
    try:
        call()
    except oss2.exceptions.OssError as e:
        return [e.status, e.code]
    raise AssertionError("the call was not refused")


def uploads(seen):
    client = vod()

    # put_object_from_file, signature V1 (the SDK's default), exactly as documented.
    image_id, address, auth = create_upload(client, "put")
    expect(address["Endpoint"].count("/") == 2, f"Endpoint is not bare: {address['Endpoint']}")
    expect(auth.get("Expiration") == "3000", f"Expiration {auth.get('Expiration')}")
    bucket = init_oss_client(auth, address)
    # A multipart upload left open: writing the object whole ends it (its parts go).
    bucket.init_multipart_upload(address["FileName"])
    result = upload_local_file(bucket, address, SMALL)
    expect(result.status == 200, f"put_object_from_file: {result.status}")
    with open(SMALL, "rb") as f:
        small = f.read()
    expect(
        result.etag.upper() == hashlib.md5(small).hexdigest().upper(),
        f"ETag {result.etag}",
    )
    info = wait_normal(client, image_id)
    seen["put"] = {
        "image_id": image_id,
        "bucket": address["Bucket"],
        "key": address["FileName"],
        "size": [info.mezzanine.width, info.mezzanine.height],
    }

    # The same credential again: the object is written once.
    seen["twice"] = refused(lambda: upload_local_file(bucket, address, LARGE))
    seen["after_twice"] = status(client, image_id)
    # Reads and lists, and another key, with the credential.
    seen["read"] = refused(lambda: bucket.get_object(address["FileName"]))
    seen["list"] = refused(lambda: bucket.list_objects())
    seen["other_key"] = refused(
        lambda: bucket.put_object(address["FileName"].rsplit("/", 1)[0] + "/other.jpg", small)
    )

    # Signature V4, with the region the answer states.
    image_id, address, auth = create_upload(client, "put v4")
    v4 = oss2.Bucket(
        oss2.StsAuth(
            auth["AccessKeyId"],
            auth["AccessKeySecret"],
            auth["SecurityToken"],
            auth_version=oss2.AUTH_VERSION_4,
        ),
        address["Endpoint"],
        address["Bucket"],
        region=auth["Region"],
    )
    v4.put_object_from_file(address["FileName"], SMALL)
    wait_normal(client, image_id)
    seen["v4"] = {"image_id": image_id, "key": address["FileName"]}

    # The SDK's CNAME mode (what a deployment without a wildcard domain tells clients to
    # use): no bucket in the host or the path.
    image_id, address, auth = create_upload(client, "cname")
    cname = oss2.Bucket(
        oss2.StsAuth(auth["AccessKeyId"], auth["AccessKeySecret"], auth["SecurityToken"]),
        address["Endpoint"],
        address["Bucket"],
        is_cname=True,
    )
    cname.put_object_from_file(address["FileName"], SMALL)
    wait_normal(client, image_id)
    seen["cname"] = {"image_id": image_id, "key": address["FileName"]}

    # resumable_upload in parts (100 KB, the SDK's smallest), with a changed part's digest
    # refused first.
    image_id, address, auth = create_upload(client, "resumable")
    bucket = init_oss_client(auth, address)
    with open(LARGE, "rb") as f:
        large = f.read()
    seen["bad_md5"] = refused(
        lambda: bucket.put_object(
            address["FileName"],
            large,
            headers={"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()},
        )
    )
    seen["after_bad_md5"] = status(client, image_id)
    with tempfile.TemporaryDirectory() as records:
        oss2.resumable_upload(
            bucket,
            address["FileName"],
            LARGE,
            store=oss2.ResumableStore(root=records),
            multipart_threshold=100 * 1024,
            part_size=100 * 1024,
            num_threads=2,
        )
    wait_normal(client, image_id)
    seen["resumable"] = {"image_id": image_id, "key": address["FileName"], "bytes": len(large)}

    # The credential without its token, and an expired one.
    image_id, address, auth = create_upload(client, "refusals")
    no_token = oss2.Bucket(
        oss2.Auth(auth["AccessKeyId"], auth["AccessKeySecret"]),
        address["Endpoint"],
        address["Bucket"],
    )
    seen["no_token"] = refused(lambda: upload_local_file(no_token, address, SMALL))
    wrong_secret = oss2.Bucket(
        oss2.StsAuth(auth["AccessKeyId"], "not-the-secret", auth["SecurityToken"]),
        address["Endpoint"],
        address["Bucket"],
    )
    seen["wrong_secret"] = refused(lambda: upload_local_file(wrong_secret, address, SMALL))
    expired = init_oss_client(EXPIRED_AUTH, address)
    seen["expired"] = refused(
        lambda: expired.put_object(EXPIRED_AUTH["FileName"], small)
    )
    # Over the size cap, whole and in parts: nothing kept, the image still waits.
    seen["too_large"] = refused(lambda: upload_local_file(init_oss_client(auth, address), address, TOO_LARGE))
    with tempfile.TemporaryDirectory() as records:
        seen["too_large_parts"] = refused(
            lambda: oss2.resumable_upload(
                init_oss_client(auth, address),
                address["FileName"],
                TOO_LARGE,
                store=oss2.ResumableStore(root=records),
                multipart_threshold=100 * 1024,
                part_size=100 * 1024,
                num_threads=1,
            )
        )
    seen["refusals"] = {"image_id": image_id, "key": address["FileName"]}
    seen["after_too_large"] = status(client, image_id)

    # Multipart uploads open at once are bounded; an aborted one makes room, and ListParts
    # of it then answers NoSuchUpload.
    image_id, address, auth = create_upload(client, "open uploads")
    bucket = init_oss_client(auth, address)
    ids = [bucket.init_multipart_upload(address["FileName"]).upload_id for _ in range(8)]
    seen["ninth_upload"] = refused(lambda: bucket.init_multipart_upload(address["FileName"]))
    bucket.abort_multipart_upload(address["FileName"], ids[0])
    seen["aborted_parts"] = refused(lambda: bucket.list_parts(address["FileName"], ids[0]))
    bucket.init_multipart_upload(address["FileName"])
    # Deleting an image whose upload never finished deletes the parts waiting for it.
    bucket.upload_part(address["FileName"], ids[1], 1, b"x" * 1000)
    client.delete_image(vod_models.DeleteImageRequest(delete_image_type="ImageId", image_ids=image_id))
    seen["deleted_with_parts"] = image_id


if __name__ == "__main__":
    report.run(uploads, {})
