//! Posting a signed webhook: guarded, pinned to the addresses the guard approved, no
//! redirects, bounded in time.

use std::time::Duration;

use ipnet::IpNet;

use super::signature;
use super::url_guard::{self, GuardError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook URL {0}")]
    Refused(#[from] GuardError),
    #[error("the request failed: {0}")]
    Transport(String),
}

/// A webhook request, signed at send time.
pub struct SignedPost<'a> {
    pub url: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub signing_key: &'a str,
    pub body: &'a [u8],
}

#[derive(Clone, Debug)]
pub struct WebhookPoster {
    allowed: Vec<IpNet>,
    timeout: Duration,
}

impl WebhookPoster {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        WebhookPoster {
            allowed,
            timeout: Duration::from_secs(10),
        }
    }

    /// Sends the request and returns the receiver's status code.
    pub async fn post(&self, post: &SignedPost<'_>) -> Result<u16, WebhookError> {
        let url = url_guard::check_syntax(post.url)?;
        let addrs = url_guard::resolve(&url, &self.allowed).await?;
        let host = url.host_str().unwrap_or_default().to_string();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(5))
            .resolve_to_addrs(&host, &addrs)
            .user_agent(concat!("Folio-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Transport(e.to_string()))?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Folio-Event-Id", post.event_id)
            .header("Folio-Event-Type", post.event_type)
            .header(
                signature::HEADER,
                signature::sign(post.signing_key, timestamp, post.body),
            )
            .header(
                signature::OC_HEADER,
                signature::oc_sign(post.signing_key, post.body),
            )
            .body(post.body.to_vec())
            .send()
            .await
            .map_err(|e| WebhookError::Transport(e.to_string()))?;
        Ok(response.status().as_u16())
    }
}
