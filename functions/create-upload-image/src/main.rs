//! `create-upload-image`: the `CreateUploadImage` operation behind API Gateway.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_http_routes(&[folio_shared::Operation::CreateUploadImage]).await
}
