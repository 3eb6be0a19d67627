//! The `folio` command's library: the local stack behind `folio serve`, also used by the
//! integration tests to run Folio in-process against the emulator.

pub mod convert;
pub mod keys;
pub mod local;
pub mod pdf;
