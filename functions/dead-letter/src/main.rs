//! `dead-letter`: ends what the upload and notification queues could not process.

use std::sync::Arc;

use folio_shared::dead_letter::DeadLetterWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = Arc::new(folio_shared::App::from_env().await?);
    folio_shared::queue::run_lambda(DeadLetterWorker { app }).await
}
