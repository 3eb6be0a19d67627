//! The RPC operations as the document describes them: each operation's parameters and the
//! fields of its answer. The match on [`Operation`] is exhaustive, so an operation added
//! without its description does not build.

use serde_json::{Value, json};

use crate::api::Operation;

/// One request parameter: its name, JSON type, whether it is required, and what it is.
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub about: &'static str,
}

/// The JSON types parameters come in. The SDKs send objects and lists as JSON text too.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Integer,
    Boolean,
    List,
    Object,
}

impl Kind {
    pub fn schema(self) -> Value {
        match self {
            Kind::Text => json!({"type": "string"}),
            Kind::Integer => json!({"type": ["integer", "string"]}),
            Kind::Boolean => json!({"type": ["boolean", "string"]}),
            Kind::List => json!({"type": ["array", "string"]}),
            Kind::Object => json!({"type": ["object", "string"]}),
        }
    }
}

const fn p(name: &'static str, kind: Kind, about: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        about,
    }
}

const fn req(name: &'static str, kind: Kind, about: &'static str) -> Param {
    Param {
        name,
        kind,
        required: true,
        about,
    }
}

use Kind::{Boolean, Integer, List, Object, Text};

/// What the operation does, in a line.
pub fn summary(op: Operation) -> &'static str {
    match op {
        Operation::CreateUploadImage => {
            "Records an image as Uploading and answers where and how to upload it (VOD)"
        }
        Operation::GetImageInfos => "Up to 20 images with expiring URLs (VOD)",
        Operation::UpdateImageInfos => "Changes titles, descriptions, tags and categories (VOD)",
        Operation::DeleteImage => "Deletes images and their files (VOD)",
        Operation::GetWebhookSecret => "The caller's key for checking webhook signatures",
        Operation::ListDeliveries => {
            "A record's notifications, each with every attempt and the receiver's answer"
        }
        Operation::ReplayDelivery => "Sends a notification again: the same body and event id",
        Operation::CreateProject => "Creates a project with the role Folio assumes (IMM)",
        Operation::GetProject => "A project (IMM)",
        Operation::ListProjects => "The caller's projects in name order (IMM)",
        Operation::UpdateProject => "Changes a project's role, description or tags (IMM)",
        Operation::DeleteProject => "Deletes a project (IMM)",
        Operation::CreateImageToPDFTask => {
            "Starts a task that makes one PDF of up to 100 images (IMM)"
        }
        Operation::GetTask => "A task's state and result (IMM)",
        Operation::ListTasks => "A project's tasks, filtered and paged (IMM)",
        Operation::CreateBatch => "Starts a batch over a bucket prefix (IMM)",
        Operation::GetBatch => "A batch with its counts (IMM)",
        Operation::ListBatches => "A project's batches, filtered and paged (IMM)",
        Operation::UpdateBatch => "Changes a Ready or Failed batch (IMM)",
        Operation::SuspendBatch => "Suspends a Running batch (IMM)",
        Operation::ResumeBatch => "Resumes a Suspended or Failed batch (IMM)",
        Operation::DeleteBatch => "Deletes a batch that is not Running (IMM)",
    }
}

const PROJECT: Param = req(
    "ProjectName",
    Text,
    "the project: a letter, then letters, digits, - or _",
);
const NEXT_TOKEN: Param = p(
    "NextToken",
    Text,
    "where the previous page ended, as it answered",
);
const SUBJECT: [Param; 2] = [
    req("SubjectType", Text, "Image, Task, Job or Batch"),
    req("SubjectId", Text, "the record's id"),
];
const NOTIFICATION: Param = p(
    "Notification",
    Object,
    "Webhook.URL, SNS.TopicArn, EventBridge.EventBusName or MNS.TopicName",
);

/// The operation's parameters.
pub fn params(op: Operation) -> Vec<Param> {
    match op {
        Operation::CreateUploadImage => vec![
            req("ImageType", Text, "default or cover"),
            p("ImageExt", Text, "png (the default), jpg, jpeg or gif"),
            p("Title", Text, "at most 128 bytes"),
            p("Tags", Text, "comma-separated, at most 16 of 32 bytes"),
            p("Description", Text, "at most 1024 bytes"),
            p("CateId", Integer, "a category id"),
            p("StorageLocation", Text, "an upload bucket of this service"),
            p("AppId", Text, "default app-1000000"),
            p(
                "UserData",
                Text,
                "JSON: MessageCallback.CallbackURL and Extend; at most 2048 bytes",
            ),
        ],
        Operation::GetImageInfos => vec![
            req("ImageIds", Text, "1 to 20 ids, comma-separated"),
            p(
                "AuthTimeout",
                Integer,
                "seconds the URLs last: 1 to 2592000, default 3600",
            ),
            p("OutputType", Text, "oss (the default) or cdn"),
        ],
        Operation::UpdateImageInfos => vec![req(
            "UpdateContent",
            List,
            "at most 20 of {ImageId, Title, Description, Tags, CateId}",
        )],
        Operation::DeleteImage => vec![
            p("DeleteImageType", Text, "ImageId (the default) or ImageURL"),
            p("ImageIds", Text, "ids, comma-separated"),
            p(
                "ImageURLs",
                Text,
                "URLs GetImageInfos gave, comma-separated",
            ),
        ],
        Operation::GetWebhookSecret => Vec::new(),
        Operation::ListDeliveries => SUBJECT.into(),
        Operation::ReplayDelivery => {
            let mut params: Vec<Param> = SUBJECT.into();
            params.push(req(
                "EventId",
                Text,
                "the event, as ListDeliveries gives it",
            ));
            params.push(req("Target", Text, "Webhook, SNS or EventBridge"));
            params
        }
        Operation::CreateProject => vec![
            PROJECT,
            req(
                "ServiceRole",
                Text,
                "the IAM role Folio assumes to reach the project's buckets",
            ),
            p("Description", Text, "at most 256 bytes"),
            p("Tag", List, "[{Key, Value}], as the SDK sends it"),
            p("Tags", Object, "{key: value}"),
        ],
        Operation::GetProject | Operation::DeleteProject => vec![PROJECT],
        Operation::ListProjects => vec![p("MaxResults", Integer, "1 to 100"), NEXT_TOKEN],
        Operation::UpdateProject => vec![
            PROJECT,
            p("ServiceRole", Text, "a new role"),
            p("Description", Text, "at most 256 bytes"),
            p("Tag", List, "[{Key, Value}]: the tags from now on"),
            p("Tags", Object, "{key: value}: the tags from now on"),
        ],
        Operation::CreateImageToPDFTask => vec![
            PROJECT,
            req(
                "Sources",
                List,
                "1 to 100 of {URI: s3:// or oss://, Rotate: 0, 90, 180, 270}",
            ),
            req(
                "TargetURI",
                Text,
                "where the PDF goes: s3://bucket/key or oss://bucket/key",
            ),
            p("UserData", Text, "at most 2048 bytes, given back"),
            p("Tags", Object, "{key: value}"),
            NOTIFICATION,
            p("CredentialConfig", Object, "Chain of up to 3 {Role}"),
            p("PageSize", Text, "Folio's page options, as folio pdf's"),
            p("Fit", Text, "Folio's page options, as folio pdf's"),
            p("Margin", Text, "Folio's page options, as folio pdf's"),
            p(
                "AutoOrient",
                Boolean,
                "Folio's page options, as folio pdf's",
            ),
            p(
                "JpegQuality",
                Integer,
                "Folio's page options, as folio pdf's",
            ),
        ],
        Operation::GetTask => vec![
            PROJECT,
            req("TaskId", Text, "the task"),
            p("TaskType", Text, "ImageToPDF"),
            p(
                "RequestDefinition",
                Boolean,
                "whether to answer the request as recorded",
            ),
        ],
        Operation::ListTasks => vec![
            PROJECT,
            p("TaskTypes", List, "ImageToPDF"),
            p("Status", Text, "Running, Succeeded or Failed"),
            p("TagSelector", Text, "k=v, commas for several"),
            p("Sort", Text, "TaskId, StartTime or EndTime"),
            p("Order", Text, "ASC or DESC"),
            p("MaxResults", Integer, "1 to 100, default 100"),
            NEXT_TOKEN,
            p("StartTimeRange", Object, "{Start, End}, RFC 3339"),
            p("EndTimeRange", Object, "{Start, End}, RFC 3339"),
        ],
        Operation::CreateBatch => vec![
            PROJECT,
            req(
                "Input",
                Object,
                "{OSS or S3: {Bucket, Prefix, MatchExpressions}}",
            ),
            req(
                "Actions",
                List,
                "[{Name, Parameters, FastFailPolicy}], sys/saveas last",
            ),
            NOTIFICATION,
            p("Tags", Object, "{key: value}"),
            p("ServiceRole", Text, "the project's when absent"),
        ],
        Operation::GetBatch
        | Operation::SuspendBatch
        | Operation::ResumeBatch
        | Operation::DeleteBatch => vec![PROJECT, req("Id", Text, "the batch")],
        Operation::ListBatches => vec![
            PROJECT,
            p(
                "State",
                Text,
                "Ready, Running, Suspended, Succeeded or Failed",
            ),
            p("Sort", Text, "CreateTime or UpdateTime"),
            p("Order", Text, "ASC or DESC"),
            p("TagSelector", Text, "k=v, commas for several"),
            p("MaxResults", Integer, "0 to 100; 0 is 100"),
            NEXT_TOKEN,
        ],
        Operation::UpdateBatch => vec![
            PROJECT,
            req("Id", Text, "the batch"),
            p("Input", Object, "as CreateBatch's"),
            p("Actions", List, "as CreateBatch's"),
            p("Tags", Object, "{key: value}"),
        ],
    }
}

/// The fields of the operation's answer besides `RequestId`.
pub fn answer(op: Operation) -> Vec<&'static str> {
    match op {
        Operation::CreateUploadImage => {
            vec![
                "ImageId",
                "UploadAddress",
                "UploadAuth",
                "ImageURL",
                "FileURL",
            ]
        }
        Operation::GetImageInfos => vec!["ImageInfo", "NonExistImageIds"],
        Operation::UpdateImageInfos | Operation::DeleteImage => vec!["NonExistImageIds"],
        Operation::GetWebhookSecret => {
            vec!["WebhookSecret", "SignatureHeader", "SignatureScheme"]
        }
        Operation::ListDeliveries => vec!["Deliveries"],
        Operation::ReplayDelivery => vec!["EventId", "Target", "FirstAttempt"],
        Operation::CreateProject | Operation::GetProject | Operation::UpdateProject => {
            vec!["Project"]
        }
        Operation::ListProjects => vec!["Projects", "NextToken"],
        Operation::DeleteProject
        | Operation::UpdateBatch
        | Operation::SuspendBatch
        | Operation::ResumeBatch
        | Operation::DeleteBatch => Vec::new(),
        Operation::CreateImageToPDFTask => vec!["EventId", "TaskId"],
        Operation::GetTask => vec![
            "ProjectName",
            "TaskId",
            "TaskType",
            "Status",
            "Code",
            "Message",
            "StartTime",
            "EndTime",
            "UserData",
            "Tags",
            "Progress",
            "TaskRequestDefinition",
            "Output",
        ],
        Operation::ListTasks => vec!["Tasks", "NextToken"],
        Operation::CreateBatch => vec!["Id"],
        Operation::GetBatch => vec!["Batch"],
        Operation::ListBatches => vec!["Batches", "NextToken"],
    }
}
