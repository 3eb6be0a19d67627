//! `rpc`: every operation at `POST /` (and `GET /` for the reads), chosen by the RPC action
//! (`x-acs-action` or `Action`), as the vendors' SDKs call them; the OSS upload endpoint; and
//! the OpenAPI document.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_keys_api().await
}
