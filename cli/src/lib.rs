//! The `folio` command's library: the gateway behind `folio serve` (on one machine or the
//! AWS adapters), also used by the integration tests to run Folio in-process.

pub mod buckets;
pub mod convert;
pub mod keys;
pub mod local;
pub mod pdf;
