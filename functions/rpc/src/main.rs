//! `rpc`: every operation at `POST /` (and `GET /` for the reads), chosen by the RPC action
//! (`x-acs-action` or `Action`), as the vendors' SDKs call them.

use folio_shared::Operation;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_http_routes(&Operation::ALL).await
}
