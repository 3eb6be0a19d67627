//! `jobs`: the online-convert API v2 at `/v2/...` (jobs, inputs, conversions, outputs, the
//! catalog, and the per-job upload and download routes).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_v2().await
}
