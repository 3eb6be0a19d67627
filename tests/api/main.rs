//! Folio's integration tests: HTTP to the local gateway, which talks to the AWS emulator
//! that `make test` starts. One binary, a module per feature.

mod batches;
mod console;
mod contract;
mod events;
mod fuzz;
mod harness;
mod hostile;
mod image_library;
mod jobs;
mod jobs_sdk;
mod keys;
mod notifications;
mod one_machine;
mod openapi;
mod oss_upload;
mod queue_contract;
mod receiver;
mod storage;
mod tasks;
mod tenancy;
mod validation;
mod vendor_sdks;
