"""A client generated from Folio's openapi.json by openapi-python-client (package
`folio_client`, made by tests/api/openapi.rs) runs a conversion job and an images-to-PDF task
against folio serve, through its typed models alone: the document is good enough to build
clients from.

Env: FOLIO_BASE, FOLIO_KEY, FOLIO_CLIENT_DIR (the folder holding folio_client), FOLIO_BUCKET
(a bucket holding in/a.png and in/b.png), FOLIO_PROJECT, FOLIO_ROLE, FOLIO_PNG (a PNG file).
"""

import base64
import os
import sys
import time

sys.path.insert(0, os.environ["FOLIO_CLIENT_DIR"])
sys.path.insert(0, os.path.dirname(__file__))
import report  # noqa: E402
from folio_client import AuthenticatedClient  # noqa: E402
from folio_client.api.conversion_jobs_v_2 import (  # noqa: E402
    v_2_create_job,
    v_2_download_file_named,
    v_2_get_job,
    v_2_update_job,
    v_2_upload_base_64,
)
from folio_client.api.images_to_pdf import create_image_to_pdf_task, get_task  # noqa: E402
from folio_client.api.projects import create_project  # noqa: E402
from folio_client.models import (  # noqa: E402
    Base64Upload,
    ConversionRequest,
    CreateImageToPDFTaskRequest,
    CreateProjectRequest,
    GetTaskRequest,
    InputFile,
    Job,
    JobRequest,
)


def wait(read, done, what):
    for _ in range(300):
        value = read()
        if done(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not end within 60 s: {value}")


def steps(seen):
    client = AuthenticatedClient(
        base_url=os.environ["FOLIO_BASE"],
        token=os.environ["FOLIO_KEY"],
        raise_on_unexpected_status=True,
        # A download answers 302 to its presigned URL.
        follow_redirects=True,
    )
    png = open(os.environ["FOLIO_PNG"], "rb").read()

    # A job held until told to process: a conversion, an input uploaded as base64, then go.
    created = v_2_create_job.sync(
        client=client,
        body=JobRequest(process=False, conversion=[ConversionRequest(target="jpg")]),
    )
    assert isinstance(created, Job), created
    uploaded = v_2_upload_base_64.sync(
        job_id=created.id,
        upload_job_id=created.id,
        client=client,
        body=Base64Upload(content=base64.b64encode(png).decode(), filename="small.png"),
    )
    assert isinstance(uploaded, InputFile), uploaded
    started = v_2_update_job.sync(job_id=created.id, client=client, body=JobRequest(process=True))
    assert isinstance(started, Job), started
    job = wait(
        lambda: v_2_get_job.sync(job_id=created.id, client=client),
        lambda j: j.status.code.value in ("completed", "failed"),
        "the job",
    )
    assert job.status.code.value == "completed", job.to_dict()
    output = job.output[0]
    download = v_2_download_file_named.sync_detailed(
        job_id=created.id,
        output_id=output.id,
        filename=output.filename,
        client=client,
    )
    assert download.status_code == 200, download.status_code
    assert download.content[:3] == b"\xff\xd8\xff", "not a JPEG"
    seen["job"] = {"status": job.status.code.value, "output_bytes": len(download.content)}

    # A project, then a PDF task in it.
    project = os.environ["FOLIO_PROJECT"]
    made = create_project.sync(
        client=client,
        body=CreateProjectRequest(project_name=project, service_role=os.environ["FOLIO_ROLE"]),
    )
    assert made.project is not None, made
    bucket = os.environ["FOLIO_BUCKET"]
    task = create_image_to_pdf_task.sync(
        client=client,
        body=CreateImageToPDFTaskRequest(
            project_name=project,
            sources=[{"URI": f"oss://{bucket}/in/a.png"}, {"URI": f"oss://{bucket}/in/b.png"}],
            target_uri=f"oss://{bucket}/out/both.pdf",
        ),
    )
    assert task.task_id, task
    done = wait(
        lambda: get_task.sync(
            client=client,
            body=GetTaskRequest(project_name=project, task_id=task.task_id),
        ),
        lambda t: t.status.value in ("Succeeded", "Failed"),
        "the task",
    )
    assert done.status.value == "Succeeded", done.to_dict()
    seen["task"] = {"id": task.task_id, "status": done.status.value}


report.run(steps, {})
