//! An OSS-compatible upload endpoint, so that VOD's documented upload works unchanged:
//! `CreateUploadImage` answers temporary credentials (`credential.rs`) for one object, and
//! the OSS SDKs write it with `put_object` or a multipart `resumable_upload`
//! (`handler.rs`, on the object and its parts in `upload.rs`), signed as OSS signs (`signature.rs`), answered in OSS's XML (`xml.rs`).

pub mod credential;
pub mod handler;
pub mod signature;
pub mod upload;
pub mod xml;

pub use handler::{OssRequest, OssResponse, handle, is_oss_request};
