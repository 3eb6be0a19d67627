//! `image-uploaded`: S3 upload events (through SQS) -> probe, record, announce.

use std::sync::Arc;

use folio_shared::image::uploaded::UploadWorker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = Arc::new(folio_shared::App::from_env().await?);
    folio_shared::queue::run_lambda(UploadWorker { app }).await
}
