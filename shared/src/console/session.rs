//! The console's session: a cookie that names the tenant, signed by a key derived from the
//! service's secret, and the CSRF token that state-changing forms carry.
//!
//! Nothing is stored. The cookie is `S1.<payload>.<mac>`: the payload names the tenant, the
//! expiry and a random nonce; the MAC covers it. The API key that signed in is never kept,
//! in the cookie or anywhere else. The CSRF token is a MAC of the session's nonce, so a page
//! of one session cannot be replayed into another, and another site, which can neither read
//! the page nor the `SameSite=Strict` cookie, cannot forge it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::keyed_mac::{derive, mac};
use crate::tenant::Tenant;

/// The cookie's name.
pub const COOKIE: &str = "folio_console";
/// How long a session lasts: a working day.
pub const LIFETIME_SECONDS: i64 = 8 * 3600;
/// The longest cookie value read (a tenant id is at most a few hundred bytes).
const MAX_COOKIE: usize = 2048;
const PREFIX: &str = "S1.";

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The tenant's identity.
    t: String,
    /// Expiry, Unix seconds.
    x: i64,
    /// 128 random bits: what the CSRF token is bound to.
    n: String,
}

/// A signed-in session.
#[derive(Clone, Debug)]
pub struct Session {
    pub tenant: Tenant,
    nonce: String,
}

/// Makes and checks sessions and CSRF tokens with a key derived from the service's secret.
pub struct Sessions {
    key: [u8; 32],
}

impl Sessions {
    /// Sessions of a service whose secret is `service_secret` (the key is derived, so no
    /// other use of the secret ever yields one of its values).
    pub fn new(service_secret: &str) -> Sessions {
        Sessions {
            key: derive(service_secret, "folio: console sessions, v1"),
        }
    }

    /// A new session of `tenant`, and its cookie value.
    pub fn start(&self, tenant: Tenant, now: i64) -> (Session, String) {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let payload = Payload {
            t: tenant.id().to_string(),
            x: now + LIFETIME_SECONDS,
            n: nonce.clone(),
        };
        // A struct of strings and a number always serializes.
        let payload = B64.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let tag = B64.encode(
            mac(&self.key, &[b"cookie\n", payload.as_bytes()])
                .finalize()
                .into_bytes(),
        );
        (
            Session { tenant, nonce },
            format!("{PREFIX}{payload}.{tag}"),
        )
    }

    /// The session a cookie value names, if it is one this service signed and it has not
    /// expired at `now`.
    pub fn open(&self, cookie: &str, now: i64) -> Option<Session> {
        if cookie.len() > MAX_COOKIE {
            return None;
        }
        let (payload, tag) = cookie.strip_prefix(PREFIX)?.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        mac(&self.key, &[b"cookie\n", payload.as_bytes()])
            .verify_slice(&tag)
            .ok()?;
        let payload: Payload = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        if payload.x <= now {
            return None;
        }
        Some(Session {
            tenant: Tenant::new(payload.t)?,
            nonce: payload.n,
        })
    }

    /// The CSRF token of `session`'s forms.
    pub fn csrf_token(&self, session: &Session) -> String {
        B64.encode(
            mac(&self.key, &[b"csrf\n", session.nonce.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `token` is `session`'s CSRF token (compared in constant time).
    pub fn csrf_matches(&self, session: &Session, token: &str) -> bool {
        crate::auth::same(self.csrf_token(session).as_bytes(), token.as_bytes())
    }
}

/// The value of the cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Tenant {
        Tenant::new("acme").unwrap()
    }

    #[test]
    fn a_cookie_opens_to_its_tenant_until_it_expires() {
        let sessions = Sessions::new("secret");
        let (session, cookie) = sessions.start(acme(), 1000);
        let opened = sessions.open(&cookie, 1001).expect("opens");
        assert_eq!(opened.tenant, acme());
        assert!(sessions.csrf_matches(&opened, &sessions.csrf_token(&session)));
        assert!(sessions.open(&cookie, 1000 + LIFETIME_SECONDS).is_none());
    }

    #[test]
    fn an_altered_or_foreign_cookie_does_not_open() {
        let sessions = Sessions::new("secret");
        let (_, cookie) = sessions.start(acme(), 1000);
        let (payload, tag) = cookie
            .strip_prefix(PREFIX)
            .unwrap()
            .split_once('.')
            .unwrap();
        let forged = B64.encode(br#"{"t":"other","x":999999,"n":"00"}"#);
        assert!(
            sessions
                .open(&format!("{PREFIX}{forged}.{tag}"), 1001)
                .is_none()
        );
        assert!(
            sessions
                .open(&format!("{PREFIX}{payload}.AAAA"), 1001)
                .is_none()
        );
        assert!(Sessions::new("another").open(&cookie, 1001).is_none());
        assert!(sessions.open("", 1001).is_none());
        assert!(sessions.open(&"S1.".repeat(1000), 1001).is_none());
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let sessions = Sessions::new("secret");
        let (one, _) = sessions.start(acme(), 1000);
        let (two, _) = sessions.start(acme(), 1000);
        assert!(!sessions.csrf_matches(&two, &sessions.csrf_token(&one)));
        assert!(!sessions.csrf_matches(&one, ""));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "a=1; folio_console=S1.x.y; b=2";
        assert_eq!(cookie_value(header, COOKIE), Some("S1.x.y"));
        assert_eq!(cookie_value(header, "c"), None);
    }
}
