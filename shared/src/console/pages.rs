//! The console's HTML, written with `maud`, which escapes every value it is given: a title,
//! a tag, a file name or an error message is text on the page, never markup. Nothing here
//! is inline script or style, so the Content-Security-Policy can forbid both.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::image::model::ImageRecord;

/// What every page of a signed-in tenant carries.
pub struct Frame<'a> {
    pub tenant: &'a str,
    pub csrf: &'a str,
}

/// A path segment, percent-encoded for a link.
fn segment(s: &str) -> String {
    urlencoding::encode(s).into_owned()
}

/// A record's state as a class name: letters only, lowercase.
fn state_class(state: &str) -> String {
    state
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The states in which a record still changes by itself: a page showing one polls.
pub fn is_live(state: &str) -> bool {
    matches!(
        state.to_ascii_lowercase().as_str(),
        "running" | "ready" | "queued" | "downloading" | "pending" | "processing" | "uploading"
    )
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_default()
}

fn page(title: &str, frame: Option<&Frame>, live: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · Folio console" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/console" { "Folio console" }
                    @if let Some(frame) = frame {
                        span.tenant { "Tenant " strong { (frame.tenant) } }
                        form.inline method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(frame.csrf);
                            button type="submit" id="sign-out" { "Sign out" }
                        }
                    }
                }
                main id="main" data-live=(if live { "1" } else { "0" }) {
                    (content)
                }
            }
        }
    }
}

fn badge(state: &str) -> Markup {
    html! { span class={ "state state-" (state_class(state)) } { (state) } }
}

fn progress(percent: Option<u64>) -> Markup {
    html! {
        @if let Some(p) = percent {
            span.progress { progress max="100" value=(p.min(100)) {} " " (p.min(100)) "%" }
        }
    }
}

/// Any JSON value as nested lists; `http(s)` strings are links (download URLs).
fn value(v: &Value, depth: usize) -> Markup {
    if depth > 8 {
        let mut json = v.to_string();
        json.truncate(json.floor_char_boundary(200));
        return html! { code { (json) } };
    }
    html! {
        @match v {
            Value::Null => span.muted { "none" },
            Value::Bool(b) => (b),
            Value::Number(n) => (n.to_string()),
            Value::String(s) => {
                @if s.starts_with("https://") || s.starts_with("http://") {
                    a href=(s) rel="noreferrer" { (s) }
                } @else {
                    (s)
                }
            },
            Value::Array(items) => {
                @if items.is_empty() { span.muted { "none" } } @else {
                    ol { @for item in items { li { (value(item, depth + 1)) } } }
                }
            },
            Value::Object(fields) => {
                dl { @for (name, field) in fields { dt { (name) } dd { (value(field, depth + 1)) } } }
            },
        }
    }
}

pub fn sign_in(error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        false,
        html! {
            h1 { "Sign in" }
            p { "Sign in with an API key of your tenant. The key is not kept: the session lasts eight hours or until you sign out." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/console/sign-in" {
                label for="key" { "API key" }
                input id="key" type="password" name="key" autocomplete="off" required;
                button type="submit" id="sign-in" { "Sign in" }
            }
        },
    )
}

/// The refusal of a page: its status and what to do.
pub fn refusal(frame: Option<&Frame>, title: &str, message: &str) -> Markup {
    page(
        title,
        frame,
        false,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            p { a href="/console" { "Back to the overview" } }
        },
    )
}

pub fn overview(
    frame: &Frame,
    projects: &[Value],
    jobs: &[Value],
    images: &[ImageRecord],
) -> Markup {
    let live = jobs.iter().any(|j| is_live(text(&j["status"], "code")))
        || images.iter().any(|i| is_live(&format!("{:?}", i.status)));
    page(
        "Overview",
        Some(frame),
        live,
        html! {
            h1 { "Overview" }
            section {
                h2 { "Projects" }
                p.muted { "PDF tasks and batches belong to a project." }
                @if projects.is_empty() { p.muted { "No projects yet." } } @else {
                    ul.projects {
                        @for project in projects {
                            @let name = text(project, "ProjectName");
                            li { a href={ "/console/projects/" (segment(name)) } { (name) } }
                        }
                    }
                }
            }
            section {
                h2 { "Conversion jobs" }
                @if jobs.is_empty() { p.muted { "No jobs yet." } } @else {
                    table {
                        thead { tr { th { "Job" } th { "Status" } th { "Inputs" } th { "Created" } } }
                        tbody {
                            @for job in jobs {
                                @let id = text(job, "id");
                                tr data-id=(id) {
                                    td { a href={ "/console/jobs/" (segment(id)) } { code { (id) } } }
                                    td { (badge(text(&job["status"], "code"))) }
                                    td { @for input in job["input"].as_array().into_iter().flatten() {
                                        span.file { (text(input, "filename")) } " "
                                    } }
                                    td { (text(job, "created_at")) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Image uploads" }
                @if images.is_empty() { p.muted { "No images yet." } } @else {
                    table {
                        thead { tr { th { "Image" } th { "Title" } th { "Status" } th { "Created" } } }
                        tbody {
                            @for image in images {
                                tr data-id=(image.image_id) {
                                    td { a href={ "/console/images/" (segment(&image.image_id)) } { code { (image.image_id) } } }
                                    td { (image.title.as_deref().unwrap_or_default()) }
                                    td { (badge(&format!("{:?}", image.status))) }
                                    td { (image.creation_time.to_rfc3339()) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn project(frame: &Frame, name: &str, tasks: &[Value], batches: &[Value]) -> Markup {
    let live = tasks.iter().any(|t| is_live(text(t, "Status")))
        || batches.iter().any(|b| is_live(text(b, "State")));
    let base = format!("/console/projects/{}", segment(name));
    page(
        name,
        Some(frame),
        live,
        html! {
            p.crumbs { a href="/console" { "Overview" } " / project" }
            h1 { (name) }
            section {
                h2 { "Images to PDF tasks" }
                @if tasks.is_empty() { p.muted { "No tasks in the last 7 days." } } @else {
                    table {
                        thead { tr { th { "Task" } th { "Status" } th { "Progress" } th { "Started" } th { "Error" } } }
                        tbody {
                            @for task in tasks {
                                @let id = text(task, "TaskId");
                                tr data-id=(id) {
                                    td { a href={ (base) "/tasks/" (segment(id)) } { code { (id) } } }
                                    td { (badge(text(task, "Status"))) }
                                    td { (progress(task["Progress"].as_u64())) }
                                    td { (text(task, "StartTime")) }
                                    td { (text(task, "Message")) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Batches" }
                @if batches.is_empty() { p.muted { "No batches." } } @else {
                    table {
                        thead { tr { th { "Batch" } th { "State" } th { "Created" } } }
                        tbody {
                            @for batch in batches {
                                @let id = text(batch, "Id");
                                tr data-id=(id) {
                                    td { a href={ (base) "/batches/" (segment(id)) } { code { (id) } } }
                                    td { (badge(text(batch, "State"))) }
                                    td { (text(batch, "CreateTime")) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What a record's page shows besides the record: where it came from, what it can do.
pub struct Detail<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub state: &'a str,
    pub progress: Option<u64>,
    /// `Code: Message` of a failure, if any.
    pub error: Option<String>,
    /// The crumbs' link back up, with its label.
    pub up: (String, String),
    /// Where the page is (the forms return there).
    pub here: String,
    /// Extra controls (a batch's suspend and resume).
    pub controls: Markup,
    pub record: &'a Value,
    pub deliveries: &'a [Value],
}

pub fn detail(frame: &Frame, detail: Detail) -> Markup {
    let title = format!("{} {}", detail.kind, detail.id);
    // A notification being retried changes by itself too.
    let live = is_live(detail.state)
        || detail
            .deliveries
            .iter()
            .any(|d| text(d, "State") == "Retrying");
    page(
        &title,
        Some(frame),
        live,
        html! {
            p.crumbs { a href="/console" { "Overview" } " / " a href=(detail.up.0) { (detail.up.1) } }
            h1 { (detail.kind) " " code { (detail.id) } }
            p.summary { (badge(detail.state)) " " (progress(detail.progress)) }
            @if let Some(error) = &detail.error { p.error role="alert" { (error) } }
            (detail.controls)
            section {
                h2 { "Notifications" }
                (deliveries(frame, &detail))
            }
            section.record {
                h2 { "Record" }
                (value(detail.record, 0))
            }
        },
    )
}

fn deliveries(frame: &Frame, detail: &Detail) -> Markup {
    html! {
        @if detail.deliveries.is_empty() { p.muted { "No notification has been sent for this record." } }
        @for delivery in detail.deliveries {
            @let target = &delivery["Target"];
            @let kind = text(target, "Kind");
            @let state = text(delivery, "State");
            article.delivery data-event=(text(delivery, "EventId")) data-target=(kind) {
                h3 {
                    (text(delivery, "EventType")) " to " (kind) " "
                    code { (text(target, "Url")) (text(target, "TopicArn")) (text(target, "BusName")) }
                    " " (badge(state))
                }
                table.attempts {
                    thead { tr { th { "Attempt" } th { "At" } th { "Outcome" } th { "Receiver answered" } th { "Detail" } } }
                    tbody {
                        @for attempt in delivery["Attempts"].as_array().into_iter().flatten() {
                            tr.attempt {
                                td { (attempt["Number"].as_u64().unwrap_or_default()) }
                                td { (text(attempt, "At")) }
                                td { (badge(text(attempt, "Outcome"))) }
                                td.status { (attempt["StatusCode"].as_u64().map(|s| s.to_string()).unwrap_or_default()) }
                                td { (text(attempt, "Detail")) }
                            }
                        }
                    }
                }
                @if state != "Retrying" {
                    form.inline method="post" action="/console/replay" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        input type="hidden" name="subject_type" value=(detail.kind);
                        input type="hidden" name="subject_id" value=(detail.id);
                        input type="hidden" name="event_id" value=(text(delivery, "EventId"));
                        input type="hidden" name="target" value=(kind);
                        input type="hidden" name="back" value=(detail.here);
                        button type="submit" class="replay" { "Send again" }
                    }
                } @else {
                    p.muted { "Being retried; it can be sent again once it has ended." }
                }
            }
        }
    }
}

/// A batch's suspend or resume button.
pub fn batch_controls(frame: &Frame, here: &str, state: &str) -> Markup {
    let action = match state {
        "Ready" | "Running" => Some(("suspend", "Suspend")),
        "Suspended" | "Failed" => Some(("resume", "Resume")),
        _ => None,
    };
    html! {
        @if let Some((verb, label)) = action {
            form.inline method="post" action={ (here) "/" (verb) } {
                input type="hidden" name="csrf" value=(frame.csrf);
                button type="submit" id={ (verb) "-batch" } { (label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_strings_are_text_not_markup() {
        let frame = Frame {
            tenant: "<b>t</b>",
            csrf: "\"><script>",
        };
        let record = json!({"input": [{"filename": "<img src=x onerror=alert(1)>.png"}], "link": "javascript:alert(1)"});
        let markup = detail(
            &frame,
            Detail {
                kind: "Job",
                id: "<i>id</i>",
                state: "<queued>",
                progress: None,
                error: Some("<script>alert(2)</script>".into()),
                up: ("/console".into(), "<u>up</u>".into()),
                here: "/console/jobs/x".into(),
                controls: html! {},
                record: &record,
                deliveries: &[],
            },
        )
        .into_string();
        for raw in [
            "<img src=x",
            "<script>",
            "<b>t</b>",
            "<i>id</i>",
            "<u>up</u>",
        ] {
            assert!(!markup.contains(raw), "{raw} left unescaped");
        }
        assert!(markup.contains("&lt;img src=x onerror=alert(1)&gt;.png"));
        assert!(
            !markup.contains("href=\"javascript:"),
            "only http(s) strings are links"
        );
    }

    #[test]
    fn states_that_move_by_themselves_are_live() {
        for state in ["Running", "queued", "processing", "Ready"] {
            assert!(is_live(state));
        }
        for state in ["Succeeded", "completed", "Suspended", "Failed", "Normal"] {
            assert!(!is_live(state));
        }
    }
}
