//! The job, input, conversion and output objects as the API v2 sends them: every field the
//! real service always sends, in its order, unset strings as `""`, times without zone.
//! Credentials are never written: an input's and an output target's `credentials` are `[]`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::{
    ConversionRecord, InputRecord, JobMessage, JobRecord, OutputRecord, OutputStatus, PairOutcome,
};
use crate::ports::JobState;

/// `2020-03-07T18:54:09`, as the API writes times.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An empty map as the API writes it: `[]`.
fn map_or_list(m: &Map<String, Value>) -> Value {
    if m.is_empty() {
        json!([])
    } else {
        Value::Object(m.clone())
    }
}

pub fn input(i: &InputRecord) -> Value {
    json!({
        "id": i.id,
        "type": i.kind.as_str(),
        "status": i.status,
        "source": i.source,
        "engine": "auto",
        "options": map_or_list(&i.options),
        "filename": i.facts.filename,
        "size": i.facts.size,
        "hash": i.facts.checksum,
        "checksum": i.facts.checksum,
        "content_type": i.facts.content_type,
        "created_at": time(&i.created_at),
        "modified_at": time(&i.modified_at),
        "credentials": [],
        "parameters": map_or_list(&i.parameters),
        "metadata": {},
    })
}

/// The `status` of each of a conversion's output targets: `waiting` until one of its files
/// goes to be uploaded, `uploading` while they go, `completed` once the conversion's every
/// pair is done and some file reached the target with none refused, `failed` when the
/// target refused a file or the job ended with nothing delivered there.
pub fn target_statuses(state: &JobState, c: &ConversionRecord) -> Vec<&'static str> {
    let job = &state.job;
    let pairs: Vec<&PairOutcome> = state
        .pairs
        .iter()
        .filter(|p| p.conversion_id == c.id)
        .map(|p| &p.outcome)
        .collect();
    let delivered = pairs
        .iter()
        .filter(|o| matches!(o, PairOutcome::Delivered { .. }))
        .count();
    let per_conversion = job.pairs_total / (job.conversions.len().max(1) as u64);
    let all_done = job.pairs_total > 0 && pairs.len() as u64 >= per_conversion;
    let started = state
        .uploading
        .iter()
        .any(|(_, conversion)| *conversion == c.id);
    (0..c.output_targets.len())
        .map(|index| {
            let refused = pairs.iter().any(|o| {
                matches!(o, PairOutcome::Failed { message }
                    if message.details.get("output_target") == Some(&json!(index)))
            });
            if refused {
                "failed"
            } else if delivered > 0 && all_done {
                "completed"
            } else if job.status.is_terminal() {
                "failed"
            } else if delivered > 0 || started {
                "uploading"
            } else {
                "waiting"
            }
        })
        .collect()
}

pub fn conversion(c: &ConversionRecord, target_statuses: &[&str]) -> Value {
    let targets: Vec<Value> = c
        .output_targets
        .iter()
        .zip(target_statuses)
        .map(|(t, status)| {
            json!({
                "type": t.kind,
                "status": status,
                "parameters": map_or_list(&t.parameters),
                "credentials": [],
            })
        })
        .collect();
    json!({
        "id": c.id,
        "target": c.target,
        "category": c.category,
        "options": Value::Object(c.options.clone()),
        "metadata": Value::Object(c.metadata.clone()),
        "output_target": targets,
    })
}

/// An output's status as a download would find it at `now`.
pub fn output_status(
    o: &OutputRecord,
    max_downloads: Option<u64>,
    now: DateTime<Utc>,
) -> OutputStatus {
    if o.status != OutputStatus::Enabled {
        o.status
    } else if now >= o.expires_at {
        OutputStatus::Expired
    } else if max_downloads.is_some_and(|m| o.downloads_counter >= m) {
        OutputStatus::Overuse
    } else {
        OutputStatus::Enabled
    }
}

pub fn output(job: &JobRecord, o: &OutputRecord, now: DateTime<Utc>) -> Value {
    json!({
        "id": o.id,
        "source": {"conversion": o.conversion_id, "input": [o.input_id]},
        "filename": o.facts.filename,
        "uri": format!(
            "{}/download-file/{}/{}",
            job.server(),
            o.id,
            urlencoding::encode(&o.facts.filename)
        ),
        "size": o.facts.size,
        "status": output_status(o, job.limits.max_downloads, now),
        "content_type": o.facts.content_type,
        "downloads_counter": o.downloads_counter,
        "checksum": o.facts.checksum,
        "created_at": time(&o.created_at),
        "metadata": {},
    })
}

fn messages(m: &[JobMessage]) -> Value {
    serde_json::to_value(m).unwrap_or_else(|_| json!([]))
}

/// The job, with its outputs and the errors and warnings of its pairs so far.
pub fn job(
    state: &JobState,
    errors: &[JobMessage],
    warnings: &[JobMessage],
    now: DateTime<Utc>,
) -> Value {
    let (job, outputs) = (&state.job, &state.outputs);
    let mut limits = Map::new();
    let l = &job.limits;
    let mut section = |name: &str, entries: &[(&str, Option<u64>)]| {
        let set: Map<String, Value> = entries
            .iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), json!(v))))
            .collect();
        if !set.is_empty() {
            limits.insert(name.to_string(), Value::Object(set));
        }
    };
    section(
        "job",
        &[
            ("max_credit", l.max_credit),
            ("max_inputs", l.max_inputs),
            ("max_process_time", l.max_process_time),
        ],
    );
    section("input", &[("max_file_size", l.max_file_size)]);
    section("output", &[("max_downloads", l.max_downloads)]);
    let mut doc = json!({
        "id": job.id,
        "token": job.token,
        "type": "job",
        "status": {"code": job.status.code(), "info": job.status.info()},
        "errors": messages(errors),
        "warnings": messages(warnings),
        "process": job.process,
        "fail_on_input_error": job.fail_on_input_error,
        "fail_on_conversion_error": job.fail_on_conversion_error,
        "conversion": job.conversions.iter().map(|c| conversion(c, &target_statuses(state, c))).collect::<Vec<_>>(),
        "input": job.inputs.iter().map(input).collect::<Vec<_>>(),
        "output": outputs.iter().map(|o| output(job, o, now)).collect::<Vec<_>>(),
        "callback": job.callback,
        "notify_status": job.notify_status,
        "server": job.server(),
        "spent": job.spent,
        "created_at": time(&job.created_at),
        "modified_at": time(&job.modified_at),
    });
    if !limits.is_empty() {
        doc["limits"] = Value::Object(limits);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::PairRecord;

    /// A job of one input and one conversion with two output targets, in `status`.
    fn state(status: &str, pairs_total: u64) -> JobState {
        let target = json!({"type": "ftp", "parameters": {"host": "h", "file": "out/"},
                            "credentials": {"username": "u", "password": "p"}});
        let conversion = crate::jobs::parse::conversion(
            &json!({"target": "png", "output_target": [target.clone(), target]}),
            "c",
        )
        .unwrap();
        let job: JobRecord = serde_json::from_value(json!({
            "id": "j", "tenant_key": "t", "token": "k", "status": status, "process": true,
            "fail_on_input_error": true, "fail_on_conversion_error": false, "callback": "",
            "notify_status": false, "conversions": [conversion], "inputs": [], "base_url": "",
            "version": 1, "created_at": "2026-11-26T00:00:00Z",
            "modified_at": "2026-11-26T00:00:00Z", "pairs_total": pairs_total,
        }))
        .unwrap();
        JobState::before_run(job)
    }

    fn pair(s: &JobState, input: &str, outcome: PairOutcome) -> PairRecord {
        PairRecord {
            input_id: input.into(),
            conversion_id: s.job.conversions[0].id.clone(),
            outcome,
        }
    }

    fn statuses(s: &JobState) -> Vec<&'static str> {
        target_statuses(s, &s.job.conversions[0])
    }

    #[test]
    fn output_targets_move_waiting_uploading_then_end() {
        let mut s = state("processing", 2);
        assert_eq!(statuses(&s), ["waiting", "waiting"]);
        let conversion = s.job.conversions[0].id.clone();
        s.uploading.push(("a".into(), conversion));
        assert_eq!(statuses(&s), ["uploading", "uploading"]);
        s.pairs
            .push(pair(&s, "a", PairOutcome::Delivered { credits: 1 }));
        assert_eq!(
            statuses(&s),
            ["uploading", "uploading"],
            "one of two inputs"
        );
        // The second input's file was refused by the second target.
        let mut message = JobMessage::new("conversion", "c", 6100, "exists");
        message.details.insert("output_target".into(), json!(1));
        s.pairs.push(pair(&s, "b", PairOutcome::Failed { message }));
        assert_eq!(statuses(&s), ["completed", "failed"]);
        // A job canceled before anything was delivered: its targets failed.
        let canceled = state("canceled", 2);
        assert_eq!(statuses(&canceled), ["failed", "failed"]);
    }
}
