//! `pdf-worker`: PDF tasks from SQS -> sources read through the project's role, the PDF
//! streamed to `TargetURI`, the task ended and announced.

use std::sync::Arc;

use folio_shared::task::worker::PdfWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = Arc::new(folio_shared::App::from_env().await?);
    folio_shared::queue::run_lambda(PdfWorker { app }).await
}
