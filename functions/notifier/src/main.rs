//! `notifier`: delivers queued notifications (signed webhooks, SNS, EventBridge).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    folio_shared::telemetry::init();
    let app = folio_shared::App::from_env().await?;
    folio_shared::queue::run_lambda(app.notifier()).await
}
