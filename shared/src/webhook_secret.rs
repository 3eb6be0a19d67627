//! `GetWebhookSecret` (Folio's addition): the caller's key for checking webhook signatures.

use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;
use crate::notify::signature;
use crate::tenant::Tenant;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetWebhookSecretResponse {
    pub webhook_secret: String,
    pub signature_header: &'static str,
    pub signature_scheme: &'static str,
}

pub fn handle(app: &App, tenant: &Tenant) -> Result<GetWebhookSecretResponse, ApiError> {
    Ok(GetWebhookSecretResponse {
        webhook_secret: signature::tenant_signing_key(&app.config.webhook_secret, tenant.key()),
        signature_header: signature::HEADER,
        signature_scheme: "t=<unix seconds>,v1=<hex HMAC-SHA256(WebhookSecret, \"<t>.<raw body>\")>",
    })
}
