//! The image library, compatible with VOD's CreateUploadImage, GetImageInfos,
//! UpdateImageInfos and DeleteImage, and the upload trigger.

pub mod create_upload;
pub mod delete;
pub mod get_infos;
pub mod model;
pub mod probe;
pub mod update_infos;
pub mod uploaded;
pub(crate) mod validate;
