//! Folio's common crate: domain, API types and validation, engines, ports, AWS adapters and
//! handlers. Function binaries and the `folio` CLI are thin layers over it.

pub mod api;
pub mod app;
pub mod auth;
pub mod aws;
pub mod batch;
pub mod blocking;
pub mod config;
pub mod console;
pub mod dead_letter;
pub mod edge;
pub mod embedded;
pub mod error;
pub mod image;
pub mod jobs;
pub mod keyed_mac;
pub mod limits;
pub mod notify;
pub mod openapi;
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

/// A file of the repository, read by a unit test (the crate's folder as cargo gives it when
/// the test runs, so a test binary built by another clone reads this clone's file).
#[cfg(test)]
pub(crate) fn repository_file(name: &str) -> String {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    std::fs::read_to_string(dir.join("..").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
