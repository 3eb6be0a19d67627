//! Notifications: producers turn an event into one delivery per target and queue them; the
//! notifier delivers each (signed webhook, SNS, EventBridge), retrying with backoff.

pub mod deliveries;
pub mod delivery;
pub mod notifier;
pub mod signature;
pub mod url_guard;
pub mod webhook;

pub use delivery::{Delivery, Event, Subject, Target};
