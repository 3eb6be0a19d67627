"""Alibaba Cloud's official Python SDKs against a running Folio (`folio serve`).

Run by the integration test `vendor_sdks` with the endpoint, an access key pair and a bucket
of sources in the environment. Every result is read through the SDK's own models. Prints one
JSON object of what it saw (the test checks it against the stack) and exits non-zero on the
first unexpected answer.
"""

import base64
import json
import os
import time

import requests

from alibabacloud_imm20200930 import models as imm_models
from alibabacloud_imm20200930.client import Client as ImmClient
from alibabacloud_tea_openapi import exceptions as tea_exceptions
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_vod20170321 import models as vod_models
from alibabacloud_vod20170321.client import Client as VodClient

import report

ENDPOINT = os.environ["FOLIO_ENDPOINT"]
AK = os.environ["FOLIO_ACCESS_KEY_ID"]
SECRET = os.environ["FOLIO_ACCESS_KEY_SECRET"]
BUCKET = os.environ["FOLIO_SOURCE_BUCKET"]
ROLE = os.environ["FOLIO_SERVICE_ROLE"]
TOPIC = os.environ["FOLIO_TOPIC_NAME"]
JPEG = os.environ["FOLIO_JPEG"]
OUTPUT_BUCKET = os.environ["FOLIO_OUTPUT_BUCKET"]


# Every answer as it came over the wire, beside what the SDK's model made of it: the audit
# compares them field by field.
ANSWERS = []


def recording(client_class):
    """`client_class` with its `call_api` recording each raw answer."""
    original = client_class.call_api

    def call_api(self, params, request, runtime):
        result = original(self, params, request, runtime)
        ANSWERS.append((params.action, result.get("body")))
        return result

    client_class.call_api = call_api
    return client_class


recording(ImmClient)
recording(VodClient)


def compare(sent, read, path, mismatched, unread):
    """Walks what Folio sent beside what the model read back: a value the model kept must be
    the same (and of the same type); a field it dropped is only noted."""
    if isinstance(sent, dict) and isinstance(read, dict):
        for name, value in sent.items():
            if name in read:
                compare(value, read[name], f"{path}.{name}", mismatched, unread)
            else:
                unread.add(f"{path}.{name}")
    elif isinstance(sent, list) and isinstance(read, list) and len(sent) == len(read):
        for i, (a, b) in enumerate(zip(sent, read)):
            compare(a, b, f"{path}[{i}]", mismatched, unread)
    elif sent != read or type(sent) is not type(read):
        mismatched.append(f"{path}: sent {sent!r}, read {read!r}")


def audit(seen):
    """Each answer read back through its response model: a field Folio sends under the SDK's
    name must survive the round trip with the same value (same type); the SDK's fields that
    Folio does not send are listed."""
    from alibabacloud_imm20200930 import models as imm
    from alibabacloud_vod20170321 import models as vod

    bodies = {
        "CreateProject": imm.CreateProjectResponseBody,
        "GetProject": imm.GetProjectResponseBody,
        "ListProjects": imm.ListProjectsResponseBody,
        "UpdateProject": imm.UpdateProjectResponseBody,
        "DeleteProject": imm.DeleteProjectResponseBody,
        "CreateImageToPDFTask": imm.CreateImageToPDFTaskResponseBody,
        "GetTask": imm.GetTaskResponseBody,
        "ListTasks": imm.ListTasksResponseBody,
        "CreateBatch": imm.CreateBatchResponseBody,
        "GetBatch": imm.GetBatchResponseBody,
        "ListBatches": imm.ListBatchesResponseBody,
        "UpdateBatch": imm.UpdateBatchResponseBody,
        "SuspendBatch": imm.SuspendBatchResponseBody,
        "ResumeBatch": imm.ResumeBatchResponseBody,
        "DeleteBatch": imm.DeleteBatchResponseBody,
        "CreateUploadImage": vod.CreateUploadImageResponseBody,
        "GetImageInfos": vod.GetImageInfosResponseBody,
        "UpdateImageInfos": vod.UpdateImageInfosResponseBody,
        "DeleteImage": vod.DeleteImageResponseBody,
    }
    mismatched, unread = [], set()
    for action, raw in ANSWERS:
        model_class = bodies.get(action)
        if model_class is None or not isinstance(raw, dict):
            continue
        read = model_class().from_map(raw).to_map()
        compare(raw, read, action, mismatched, unread)
    seen["audited"] = sorted({a for a, _ in ANSWERS if a in bodies})
    seen["mismatched"] = mismatched
    seen["unread"] = sorted(unread)


def config(secret=SECRET, **extra):
    return open_api_models.Config(
        access_key_id=AK, access_key_secret=secret, endpoint=ENDPOINT, protocol="http", **extra
    )


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def imm_calls(seen):
    imm = ImmClient(config())
    project = "sdk-" + str(int(time.time() * 1000))
    created = imm.create_project(
        imm_models.CreateProjectRequest(
            project_name=project,
            service_role=ROLE,
            tag=[imm_models.CreateProjectRequestTag(key="team", value="photos")],
        )
    )
    expect(created.status_code == 200, f"CreateProject: {created.status_code}")
    expect(created.body.request_id, "CreateProject: no RequestId")
    expect(created.body.project.project_name == project, "CreateProject: Project.ProjectName")
    tags = [(t.tag_key, t.tag_value) for t in created.body.project.tags]
    expect(tags == [("team", "photos")], f"CreateProject: Project.Tags {tags}")

    task = imm.create_image_to_pdftask(
        imm_models.CreateImageToPDFTaskRequest(
            project_name=project,
            sources=[
                imm_models.CreateImageToPDFTaskRequestSources(uri=f"s3://{BUCKET}/a.jpg", rotate=90),
                imm_models.CreateImageToPDFTaskRequestSources(uri=f"s3://{BUCKET}/b.png"),
            ],
            target_uri=f"s3://{BUCKET}/out/sdk.pdf",
            tags={"origin": "sdk"},
            user_data='{"order": 7}',
            notification=imm_models.Notification(mns=imm_models.MNS(topic_name=TOPIC)),
        )
    )
    body = task.body
    expect(body.task_id.startswith("ImageToPDF-"), f"TaskId {body.task_id}")
    expect(body.event_id, "CreateImageToPDFTask: no EventId")
    seen["project"] = project
    seen["task_id"] = body.task_id

    status = "Running"
    for _ in range(150):
        got = imm.get_task(
            imm_models.GetTaskRequest(
                project_name=project,
                task_type="ImageToPDF",
                task_id=body.task_id,
                request_definition=True,
            )
        ).body
        status = got.status
        if status != "Running":
            break
        time.sleep(0.2)
    expect(status == "Succeeded", f"GetTask: Status {status}: {got.code} {got.message}")
    expect(got.tags == {"origin": "sdk"}, f"GetTask: Tags {got.tags}")
    expect(got.user_data == '{"order": 7}', f"GetTask: UserData {got.user_data}")
    expect(got.task_type == "ImageToPDF" and got.project_name == project, "GetTask: names")
    definition = json.loads(got.task_request_definition)
    expect("Signature" not in definition, "the signature was recorded with the request")
    expect(definition.get("TargetURI") == f"s3://{BUCKET}/out/sdk.pdf", f"definition {definition}")
    seen["task_status"] = status

    listed = imm.list_tasks(
        imm_models.ListTasksRequest(
            project_name=project, task_types=["ImageToPDF"], max_results=10, tag_selector="origin=sdk"
        )
    ).body
    ids = [t.task_id for t in listed.tasks]
    expect(ids == [body.task_id], f"ListTasks: {ids}")
    expect(listed.tasks[0].status == "Succeeded", "ListTasks: Status")

    try:
        imm.get_task(
            imm_models.GetTaskRequest(project_name=project, task_type="ImageToPDF", task_id="ImageToPDF-none")
        )
        raise AssertionError("GetTask of an unknown task succeeded")
    except tea_exceptions.ClientException as e:
        expect(e.code == "ResourceNotFound", f"unknown task: {e.code}")
        expect(e.request_id and e.request_id != "None", "unknown task: no RequestId")
        seen["not_found"] = e.code


def project_calls(seen):
    """A project through its life: read, listed, changed, deleted."""
    imm = ImmClient(config())
    name = "sdk-life-" + str(int(time.time() * 1000))
    imm.create_project(
        imm_models.CreateProjectRequest(project_name=name, service_role=ROLE, description="first")
    )
    got = imm.get_project(imm_models.GetProjectRequest(project_name=name)).body.project
    expect(got.project_name == name and got.description == "first", f"GetProject: {got}")
    expect(got.service_role == ROLE, f"GetProject: ServiceRole {got.service_role}")
    names, token = [], None
    while True:
        page = imm.list_projects(imm_models.ListProjectsRequest(max_results=1, next_token=token)).body
        names += [p.project_name for p in page.projects]
        token = page.next_token
        if not token:
            break
    expect(name in names, f"ListProjects: {name} not among {names}")
    other_role = ROLE.rsplit("/", 1)[0] + "/folio-tests-other"
    updated = imm.update_project(
        imm_models.UpdateProjectRequest(
            project_name=name,
            description="second",
            service_role=other_role,
            tag=[imm_models.UpdateProjectRequestTag(key="stage", value="two")],
        )
    ).body.project
    expect(updated.description == "second", f"UpdateProject: Description {updated.description}")
    again = imm.get_project(imm_models.GetProjectRequest(project_name=name)).body.project
    expect(again.service_role == other_role, f"after UpdateProject: {again.service_role}")
    tags = [(t.tag_key, t.tag_value) for t in again.tags]
    expect(tags == [("stage", "two")], f"after UpdateProject: Tags {tags}")
    expect(again.create_time == got.create_time, "UpdateProject changed CreateTime")
    deleted = imm.delete_project(imm_models.DeleteProjectRequest(project_name=name)).body
    expect(deleted.request_id, "DeleteProject: no RequestId")
    for call in (
        lambda: imm.get_project(imm_models.GetProjectRequest(project_name=name)),
        lambda: imm.update_project(imm_models.UpdateProjectRequest(project_name=name, description="x")),
    ):
        try:
            call()
            raise AssertionError("a deleted project answered")
        except tea_exceptions.ClientException as e:
            expect(e.code == "ResourceNotFound", f"deleted project: {e.code}")
    seen["project_life"] = "ok"


def wait_batch(imm, project, batch_id, states):
    batch = None
    for _ in range(300):
        batch = imm.get_batch(imm_models.GetBatchRequest(project_name=project, id=batch_id)).body.batch
        if batch.state in states:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"GetBatch: still {batch.state}, not {states}")


def imm_error(call):
    try:
        call()
    except tea_exceptions.ClientException as e:
        return e.code
    raise AssertionError("the call succeeded")


def batch_calls(seen):
    """A batch created over a bucket that does not exist fails; updated to the source
    bucket and resumed, suspended and resumed again, it converts both sources."""
    imm = ImmClient(config())
    project = seen["project"]
    actions = [
        imm_models.CreateBatchRequestActions(name="image/resize", parameters=["w=32"]),
        imm_models.CreateBatchRequestActions(
            name="image/format",
            parameters=["format=webp"],
            fast_fail_policy=imm_models.FastFailPolicy(action="ignore"),
        ),
        imm_models.CreateBatchRequestActions(
            name="sys/saveas", parameters=[f"uri=s3://{OUTPUT_BUCKET}/batch/{{barename}}.{{autoext}}"]
        ),
    ]
    created = imm.create_batch(
        imm_models.CreateBatchRequest(
            project_name=project,
            input=imm_models.Input(oss=imm_models.InputOSS(bucket=BUCKET + "-missing", prefix="")),
            actions=actions,
            service_role="AliyunIMMBatchTriggerRole",
            tags={"origin": "sdk"},
        )
    ).body
    batch_id = created.id
    expect(batch_id.startswith("batch-"), f"CreateBatch: Id {batch_id}")
    failed = wait_batch(imm, project, batch_id, {"Failed", "Succeeded"})
    expect(failed.state == "Failed" and "does not exist" in failed.error, f"GetBatch: {failed.state} {failed.error}")
    expect(failed.service_role == ROLE, f"GetBatch: ServiceRole {failed.service_role}")

    imm.update_batch(
        imm_models.UpdateBatchRequest(
            project_name=project,
            id=batch_id,
            input=imm_models.Input(
                oss=imm_models.InputOSS(bucket=BUCKET, prefix="", match_expressions=['suffix(".png")', "*.jpg"])
            ),
            actions=[imm_models.UpdateBatchRequestActions(name=a.name, parameters=a.parameters) for a in actions],
            tags={"origin": "sdk", "fixed": "yes"},
        )
    )
    imm.resume_batch(imm_models.ResumeBatchRequest(project_name=project, id=batch_id))
    # The run ends at a check a few seconds after its scan: it is still running now.
    imm.suspend_batch(imm_models.SuspendBatchRequest(project_name=project, id=batch_id))
    suspended = imm.get_batch(imm_models.GetBatchRequest(project_name=project, id=batch_id)).body.batch
    expect(suspended.state == "Suspended", f"after SuspendBatch: {suspended.state}")
    seen["batch_update_suspended"] = imm_error(
        lambda: imm.update_batch(imm_models.UpdateBatchRequest(project_name=project, id=batch_id, tags={"a": "b"}))
    )
    imm.resume_batch(imm_models.ResumeBatchRequest(project_name=project, id=batch_id))
    done = wait_batch(imm, project, batch_id, {"Succeeded", "Failed"})
    expect(done.state == "Succeeded", f"GetBatch: {done.state} {done.error}")
    expect(done.statistic.submit_success == 2, f"Statistic.SubmitSuccess {done.statistic.submit_success}")
    expect(done.tags == {"origin": "sdk", "fixed": "yes"}, f"Tags {done.tags}")
    expect(done.input.oss.bucket == BUCKET, f"Input {done.input.oss.bucket}")
    expect([a.name for a in done.actions] == ["image/resize", "image/format", "sys/saveas"], "Actions")

    listed = imm.list_batches(
        imm_models.ListBatchesRequest(
            project_name=project, state="Succeeded", sort="CreateTime", order="DES", tag_selector="fixed=yes",
            max_results=10,
        )
    ).body
    expect([b.id for b in listed.batches] == [batch_id], f"ListBatches: {[b.id for b in listed.batches]}")
    seen["batch_suspend_ended"] = imm_error(
        lambda: imm.suspend_batch(imm_models.SuspendBatchRequest(project_name=project, id=batch_id))
    )
    imm.delete_batch(imm_models.DeleteBatchRequest(project_name=project, id=batch_id))
    seen["batch_after_delete"] = imm_error(
        lambda: imm.get_batch(imm_models.GetBatchRequest(project_name=project, id=batch_id))
    )
    seen["batch_id"] = batch_id


def put(url, data):
    response = requests.put(url, data=data, timeout=30)
    expect(response.status_code == 200, f"upload: {response.status_code} {response.text[:200]}")


def vod_calls(seen):
    vod = VodClient(config())
    created = vod.create_upload_image(
        vod_models.CreateUploadImageRequest(image_type="default", image_ext="jpg", title="from the SDK")
    ).body
    expect(created.image_id, "CreateUploadImage: no ImageId")
    auth = json.loads(base64.b64decode(created.upload_auth))
    address = json.loads(base64.b64decode(created.upload_address))
    expect(address.get("Bucket") and address.get("FileName"), f"UploadAddress {address}")
    with open(JPEG, "rb") as f:
        put(auth["UploadURL"], f.read())

    infos = None
    for _ in range(150):
        infos = vod.get_image_infos(vod_models.GetImageInfosRequest(image_ids=created.image_id)).body
        if infos.image_info and infos.image_info[0].status == "Normal":
            break
        time.sleep(0.2)
    info = infos.image_info[0]
    expect(info.status == "Normal", f"GetImageInfos: Status {info.status}")
    expect(info.title == "from the SDK", f"GetImageInfos: Title {info.title}")
    expect(info.mezzanine.width and info.mezzanine.height, "GetImageInfos: Mezzanine size")
    seen["image_id"] = created.image_id
    seen["size"] = [info.mezzanine.width, info.mezzanine.height]

    updated = vod.update_image_infos(
        vod_models.UpdateImageInfosRequest(
            update_content=json.dumps([{"ImageId": created.image_id, "Title": "renamed"}])
        )
    ).body
    expect(not updated.non_exist_image_ids or not updated.non_exist_image_ids.image_id, "UpdateImageInfos")
    again = vod.get_image_infos(vod_models.GetImageInfosRequest(image_ids=created.image_id)).body
    expect(again.image_info[0].title == "renamed", f"after update: {again.image_info[0].title}")

    deleted = vod.delete_image(
        vod_models.DeleteImageRequest(delete_image_type="ImageId", image_ids=created.image_id)
    ).body
    expect(deleted.request_id, "DeleteImage: no RequestId")
    gone = vod.get_image_infos(vod_models.GetImageInfosRequest(image_ids=created.image_id)).body
    expect(gone.non_exist_image_ids == [created.image_id], f"after delete: {gone.non_exist_image_ids}")

    # The same call signed with the wrong secret: the SDK's ClientException, nothing done.
    try:
        VodClient(config(secret="not-the-secret")).create_upload_image(
            vod_models.CreateUploadImageRequest(image_type="default", image_ext="jpg")
        )
        raise AssertionError("a request signed with the wrong secret succeeded")
    except tea_exceptions.ClientException as e:
        expect(e.code == "SignatureDoesNotMatch", f"wrong secret: {e.code}")
        seen["wrong_secret"] = e.code

    # The older RPC signature (HMAC-SHA1 in the query string).
    legacy = ImmClient(config(signature_algorithm="v2"))
    projects = legacy.list_tasks(imm_models.ListTasksRequest(project_name=seen["project"])).body
    expect([t.task_id for t in projects.tasks] == [seen["task_id"]], "v2-signed ListTasks")


def older_sdk_call(seen):
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkvod.request.v20170321.GetImageInfosRequest import GetImageInfosRequest

    client = AcsClient(AK, SECRET, "cn-shanghai")
    request = GetImageInfosRequest()
    request.set_endpoint(ENDPOINT)
    request.set_protocol_type("http")
    request.set_ImageIds(seen["image_id"] + ",img-unknown")
    answer = json.loads(client.do_action_with_exception(request))
    expect(answer["NonExistImageIds"] == [seen["image_id"], "img-unknown"], f"older SDK: {answer}")
    expect(answer.get("RequestId"), "older SDK: no RequestId")
    seen["older_sdk"] = "ok"


def all_calls(seen):
    imm_calls(seen)
    project_calls(seen)
    batch_calls(seen)
    vod_calls(seen)
    older_sdk_call(seen)
    audit(seen)


if __name__ == "__main__":
    report.run(all_calls, {})
