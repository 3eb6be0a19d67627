//! `deliveries`: `ListDeliveries` and `ReplayDelivery` behind API Gateway, by the last
//! segment of the path.

use folio_shared::Operation;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    folio_shared::edge::run_http_routes(&[Operation::ListDeliveries, Operation::ReplayDelivery])
        .await
}
