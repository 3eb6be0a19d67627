//! `console`: the pages at `/console` on the keys API (sign in with an API key, watch
//! uploads, tasks, jobs and batches, send notifications again, suspend and resume batches).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_console().await
}
