//! `batch-worker`: the batches queue -> a scanner page listed and its items queued, one
//! object converted and counted, or a run's end checked.

use std::sync::Arc;

use folio_shared::batch::worker::BatchWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = Arc::new(folio_shared::App::from_env().await?);
    folio_shared::queue::run_lambda(BatchWorker::new(app)).await
}
