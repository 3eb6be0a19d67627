//! Folio's common crate: domain, API types and validation, engines, ports, AWS adapters and
//! handlers. Function binaries and the `folio` CLI are thin layers over it.

pub mod api;
pub mod app;
pub mod auth;
pub mod aws;
pub mod batch;
pub mod blocking;
pub mod config;
pub mod dead_letter;
pub mod edge;
pub mod embedded;
pub mod error;
pub mod image;
pub mod jobs;
pub mod limits;
pub mod notify;
pub mod oss;
pub mod paging;
pub mod params;
pub mod ports;
pub mod queue;
pub mod rate;
pub mod record_keys;
pub mod storage;
pub mod task;
pub mod telemetry;
pub mod tenant;
pub mod webhook_secret;

pub use api::Operation;
pub use app::App;
pub use config::Config;
