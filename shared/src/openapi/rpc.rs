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

/// The JSON types parameters come in, with the constraints the checks enforce where a
/// schema can say them. Lists and objects travel as JSON (as JSON text in a query).
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    /// A string matching the pattern.
    Pattern(&'static str),
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An integer within the bounds.
    Integer(i64, i64),
    Boolean,
    List,
    Object,
}

impl Kind {
    pub fn schema(self) -> Value {
        match self {
            Kind::Text => json!({"type": "string"}),
            Kind::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
            Kind::OneOf(values) => json!({"type": "string", "enum": values}),
            Kind::Integer(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
            Kind::Boolean => json!({"type": "boolean"}),
            Kind::List => json!({"type": "array", "items": {}}),
            Kind::Object => json!({"type": "object"}),
        }
    }

    /// Lists and objects go in a query string as JSON text.
    pub fn is_json(self) -> bool {
        matches!(self, Kind::List | Kind::Object)
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

use Kind::{Boolean, Integer, List, Object, OneOf, Pattern, Text};

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

/// A record id: a task's, a batch's, an event's.
const ID: &str = "^[A-Za-z0-9._-]{1,128}$";
const PROJECT: Param = req(
    "ProjectName",
    Pattern("^[A-Za-z][A-Za-z0-9_-]{0,127}$"),
    "the project: a letter, then letters, digits, - or _",
);
const BATCH: Param = req("Id", Pattern(ID), "the batch");
const NEXT_TOKEN: Param = p(
    "NextToken",
    Text,
    "where the previous page ended, as it answered",
);
const ORDER: Param = p("Order", OneOf(&["ASC", "DESC"]), "ascending or descending");
const TAG_SELECTOR: Param = p("TagSelector", Text, "k=v, commas for several");
const TAGS: Param = p("Tags", Object, "{key: value}");
const SUBJECT: [Param; 2] = [
    req(
        "SubjectType",
        OneOf(&["Image", "Task", "Job", "Batch"]),
        "the kind of record",
    ),
    req("SubjectId", Pattern(ID), "the record's id"),
];
const NOTIFICATION: Param = p(
    "Notification",
    Object,
    "Webhook.URL, SNS.TopicArn, EventBridge.EventBusName or MNS.TopicName",
);
const PAGE_OPTION: &str = "Folio's page options, as folio pdf's";

/// The operation's parameters.
pub fn params(op: Operation) -> Vec<Param> {
    match op {
        Operation::CreateUploadImage => vec![
            req(
                "ImageType",
                OneOf(&["default", "cover"]),
                "the kind of image",
            ),
            p(
                "ImageExt",
                OneOf(&["png", "jpg", "jpeg", "gif"]),
                "png by default",
            ),
            p("Title", Text, "at most 128 bytes"),
            p("Tags", Text, "comma-separated, at most 16 of 32 bytes"),
            p("Description", Text, "at most 1024 bytes"),
            p("CateId", Integer(1, i64::MAX), "a category id"),
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
                Integer(1, 2_592_000),
                "seconds the URLs last, default 3600",
            ),
            p("OutputType", OneOf(&["oss", "cdn"]), "oss by default"),
        ],
        Operation::UpdateImageInfos => vec![req(
            "UpdateContent",
            List,
            "at most 20 of {ImageId, Title, Description, Tags, CateId}",
        )],
        Operation::DeleteImage => vec![
            p(
                "DeleteImageType",
                OneOf(&["ImageId", "ImageURL"]),
                "ImageId by default",
            ),
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
                Pattern(ID),
                "the event, as ListDeliveries gives it",
            ));
            params.push(req(
                "Target",
                OneOf(&["Webhook", "SNS", "EventBridge"]),
                "where it went",
            ));
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
            TAGS,
        ],
        Operation::GetProject | Operation::DeleteProject => vec![PROJECT],
        Operation::ListProjects => vec![
            p("MaxResults", Integer(1, 100), "the page's size"),
            NEXT_TOKEN,
        ],
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
            TAGS,
            NOTIFICATION,
            p("CredentialConfig", Object, "Chain of up to 3 {Role}"),
            p("PageSize", Text, PAGE_OPTION),
            p("Fit", Text, PAGE_OPTION),
            p("Margin", Text, PAGE_OPTION),
            p("AutoOrient", Boolean, PAGE_OPTION),
            p("JpegQuality", Integer(1, 100), PAGE_OPTION),
        ],
        Operation::GetTask => vec![
            PROJECT,
            req("TaskId", Pattern(ID), "the task"),
            p("TaskType", OneOf(&["ImageToPDF"]), "the task's type"),
            p(
                "RequestDefinition",
                Boolean,
                "whether to answer the request as recorded",
            ),
        ],
        Operation::ListTasks => vec![
            PROJECT,
            p("TaskTypes", List, "[\"ImageToPDF\"]"),
            p(
                "Status",
                OneOf(&["Running", "Succeeded", "Failed"]),
                "only tasks in this state",
            ),
            TAG_SELECTOR,
            p(
                "Sort",
                OneOf(&["TaskId", "StartTime", "EndTime"]),
                "the order's key",
            ),
            ORDER,
            p("MaxResults", Integer(1, 100), "default 100"),
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
            TAGS,
            p("ServiceRole", Text, "the project's when absent"),
        ],
        Operation::GetBatch
        | Operation::SuspendBatch
        | Operation::ResumeBatch
        | Operation::DeleteBatch => vec![PROJECT, BATCH],
        Operation::ListBatches => vec![
            PROJECT,
            p(
                "State",
                OneOf(&["Ready", "Running", "Suspended", "Succeeded", "Failed"]),
                "only batches in this state",
            ),
            p(
                "Sort",
                OneOf(&["CreateTime", "UpdateTime"]),
                "the order's key",
            ),
            ORDER,
            TAG_SELECTOR,
            p("MaxResults", Integer(0, 100), "0 is 100"),
            NEXT_TOKEN,
        ],
        Operation::UpdateBatch => vec![
            PROJECT,
            BATCH,
            p("Input", Object, "as CreateBatch's"),
            p("Actions", List, "as CreateBatch's"),
            TAGS,
        ],
    }
}

fn text() -> Value {
    json!({"type": "string"})
}

fn list_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An object with these fields (the first `required` of them always there); more may come.
fn object(fields: &[(&str, Value)], required: usize) -> Value {
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(name, schema)| (name.to_string(), schema.clone()))
        .collect();
    let required: Vec<&str> = fields
        .iter()
        .take(required)
        .map(|(name, _)| *name)
        .collect();
    json!({"type": "object", "properties": properties, "required": required})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn tags() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn project() -> Value {
    let tag = object(&[("TagKey", text()), ("TagValue", text())], 2);
    object(
        &[
            ("ProjectName", text()),
            ("ServiceRole", text()),
            ("Description", text()),
            ("Tags", list_of(tag)),
            ("CreateTime", text()),
            ("UpdateTime", text()),
            ("ExternalId", text()),
        ],
        7,
    )
}

/// A task's fields (the first ten always there), as GetTask and ListTasks answer them.
fn task_fields() -> Vec<(&'static str, Value)> {
    let output = object(
        &[
            ("URI", text()),
            ("Size", json!({"type": "integer"})),
            ("PageCount", json!({"type": "integer"})),
        ],
        3,
    );
    vec![
        ("ProjectName", text()),
        ("TaskId", text()),
        ("TaskType", text()),
        ("Status", one_of(&["Running", "Succeeded", "Failed"])),
        ("Code", text()),
        ("Message", text()),
        ("StartTime", text()),
        ("UserData", text()),
        ("Tags", tags()),
        (
            "Progress",
            json!({"type": "integer", "minimum": 0, "maximum": 100}),
        ),
        ("EndTime", text()),
        ("TaskRequestDefinition", text()),
        ("Output", output),
    ]
}

fn task() -> Value {
    object(&task_fields(), 10)
}

fn batch() -> Value {
    object(
        &[
            ("Id", text()),
            (
                "State",
                one_of(&["Ready", "Running", "Suspended", "Succeeded", "Failed"]),
            ),
            ("Phase", one_of(&["Scanning", "Processing", "Finished"])),
            ("Statistic", json!({"type": "object"})),
            ("Input", json!({"type": "object"})),
            (
                "Actions",
                json!({"type": "array", "items": {"type": "object"}}),
            ),
            ("Tags", tags()),
        ],
        4,
    )
}

fn target() -> Value {
    object(
        &[
            ("Kind", one_of(&["Webhook", "Sns", "EventBridge"])),
            ("Url", text()),
            ("TopicArn", text()),
            ("BusName", text()),
        ],
        1,
    )
}

/// The fields of the operation's answer besides `RequestId`, and how many of the first are
/// always there.
pub fn answer(op: Operation) -> (Vec<(&'static str, Value)>, usize) {
    let outcome = one_of(&["Delivered", "Retrying", "GaveUp", "Stopped"]);
    match op {
        Operation::CreateUploadImage => (
            vec![
                ("ImageId", text()),
                ("UploadAddress", text()),
                ("UploadAuth", text()),
                ("ImageURL", text()),
                ("FileURL", text()),
            ],
            5,
        ),
        Operation::GetImageInfos => {
            let info = object(
                &[
                    ("ImageId", text()),
                    ("Status", one_of(&["Uploading", "Normal", "UploadFail"])),
                    ("ImageType", one_of(&["default", "cover"])),
                    ("CreationTime", text()),
                    ("StorageLocation", text()),
                    ("AppId", text()),
                    ("Title", text()),
                    ("URL", text()),
                    ("Mezzanine", json!({"type": "object"})),
                ],
                6,
            );
            (
                vec![
                    ("ImageInfo", list_of(info)),
                    ("NonExistImageIds", list_of(text())),
                ],
                2,
            )
        }
        Operation::UpdateImageInfos => (
            vec![(
                "NonExistImageIds",
                object(&[("ImageId", list_of(text()))], 1),
            )],
            1,
        ),
        Operation::DeleteImage => (vec![("NonExistImageIds", list_of(text()))], 1),
        Operation::GetWebhookSecret => (
            vec![
                ("WebhookSecret", text()),
                ("SignatureHeader", text()),
                ("SignatureScheme", text()),
            ],
            3,
        ),
        Operation::ListDeliveries => {
            let attempt = object(
                &[
                    ("Number", json!({"type": "integer", "minimum": 1})),
                    ("At", json!({"type": "string", "format": "date-time"})),
                    ("Outcome", outcome.clone()),
                    ("StatusCode", json!({"type": "integer"})),
                    ("Detail", text()),
                ],
                3,
            );
            let delivery = object(
                &[
                    ("EventId", text()),
                    ("EventType", text()),
                    ("Target", target()),
                    ("State", outcome),
                    ("Attempts", list_of(attempt)),
                ],
                5,
            );
            (vec![("Deliveries", list_of(delivery))], 1)
        }
        Operation::ReplayDelivery => (
            vec![
                ("EventId", text()),
                ("Target", target()),
                ("FirstAttempt", json!({"type": "integer", "minimum": 2})),
            ],
            3,
        ),
        Operation::CreateProject | Operation::GetProject | Operation::UpdateProject => {
            (vec![("Project", project())], 1)
        }
        Operation::ListProjects => (
            vec![("Projects", list_of(project())), ("NextToken", text())],
            1,
        ),
        Operation::DeleteProject
        | Operation::UpdateBatch
        | Operation::SuspendBatch
        | Operation::ResumeBatch
        | Operation::DeleteBatch => (Vec::new(), 0),
        Operation::CreateImageToPDFTask => (vec![("EventId", text()), ("TaskId", text())], 2),
        Operation::GetTask => (task_fields(), 10),
        Operation::ListTasks => (
            vec![
                ("Tasks", list_of(task())),
                ("ProjectName", text()),
                ("NextToken", text()),
            ],
            1,
        ),
        Operation::CreateBatch => (vec![("Id", text())], 1),
        Operation::GetBatch => (vec![("Batch", batch())], 1),
        Operation::ListBatches => (
            vec![("Batches", list_of(batch())), ("NextToken", text())],
            1,
        ),
    }
}
