//! Folio integration tests live in `api/`; this library is empty.
