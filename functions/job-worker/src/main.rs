//! `job-worker`: the jobs queue -> a job's inputs fetched and its pairs queued (`Start`),
//! or one input converted with one conversion (`Pair`), the job ended by the last pair.

use std::sync::Arc;

use folio_shared::jobs::worker::JobWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = Arc::new(folio_shared::App::from_env().await?);
    folio_shared::queue::run_lambda(JobWorker { app }).await
}
