//! One credential's object and its multipart uploads, in the upload bucket.
//!
//! The parts of a multipart upload wait beside the object under `multipart/<tenant>/<image>/
//! <upload id>/`, each named `<number>-<MD5>-<size>`, so a listing is all `ListParts` needs;
//! a `started` marker says the upload exists.

use http::StatusCode;
use md5::Digest as _;
use md5::Md5;

use super::credential::Grant;
use super::handler::{OssError, OssResponse, bad, forbidden, refuse};
use super::xml::{self, PartInfo};
use crate::app::App;
use crate::error::{PortError, quote};
use crate::image::model::ImageStatus;

/// Multipart uploads of one object open at once, at most (each is bounded by the upload
/// cap; this bounds what one credential can leave behind).
pub const MAX_OPEN_UPLOADS: usize = 8;
/// The name of the marker a started multipart upload leaves.
const STARTED: &str = "started";

pub(super) fn md5_hex(bytes: &[u8]) -> String {
    hex::encode_upper(Md5::digest(bytes))
}

pub(super) fn xml_answer(body: String) -> OssResponse {
    OssResponse {
        status: StatusCode::OK,
        headers: vec![("content-type", "application/xml".into())],
        body,
    }
}

fn written(etag: &str) -> OssResponse {
    OssResponse {
        status: StatusCode::OK,
        headers: vec![("etag", format!("\"{etag}\""))],
        body: String::new(),
    }
}

fn too_large(size: u64, limit: u64) -> OssError {
    bad(
        "EntityTooLarge",
        format!(
            "the object would be {size} bytes; these credentials write at most {limit} \
             (FOLIO_MAX_UPLOAD_BYTES); nothing was kept"
        ),
    )
}

fn already_uploaded(grant: &Grant) -> OssError {
    refuse(
        StatusCode::CONFLICT,
        "FileAlreadyExists",
        format!(
            "{} was uploaded already: these credentials write it once",
            grant.key
        ),
    )
}

/// One credential's object and its multipart uploads.
pub(super) struct Upload<'a> {
    pub(super) app: &'a App,
    pub(super) grant: &'a Grant,
}

impl Upload<'_> {
    /// The folder of the object's multipart uploads.
    fn uploads_folder(&self) -> String {
        uploads_folder(&self.grant.tenant_key, &self.grant.image_id)
    }

    /// Once the object is written no upload of it can finish: the parts of every one go.
    async fn clear_uploads(&self) {
        let folder = self.uploads_folder();
        if let Err(e) = self
            .app
            .files
            .delete_prefix(&self.grant.bucket, &folder)
            .await
        {
            tracing::warn!(error = %e, %folder, "parts of finished uploads stay until the image is deleted");
        }
    }

    /// The folder of a multipart upload's parts.
    pub(super) fn folder(&self, upload_id: &str) -> String {
        format!("{}{upload_id}/", self.uploads_folder())
    }

    /// Deletes a multipart upload's parts; `NoSuchUpload` if it was not started.
    pub(super) async fn abort(&self, upload_id: &str) -> Result<OssResponse, OssError> {
        self.parts(upload_id).await?;
        self.app
            .files
            .delete_prefix(&self.grant.bucket, &self.folder(upload_id))
            .await?;
        Ok(OssResponse {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: String::new(),
        })
    }

    /// Writes are taken only while the image waits for its upload.
    async fn check_waiting(&self) -> Result<(), OssError> {
        let record = self
            .app
            .images
            .get(&self.grant.tenant_key, &self.grant.image_id)
            .await?;
        match record {
            None => Err(forbidden(
                "AccessDenied",
                format!("the image {} no longer exists", self.grant.image_id),
            )),
            Some(r) if r.status != ImageStatus::Uploading => Err(already_uploaded(self.grant)),
            Some(_) => Ok(()),
        }
    }

    async fn create(&self, bytes: Vec<u8>, content_type: &str) -> Result<(), OssError> {
        let grant = self.grant;
        match self
            .app
            .objects
            .create(&grant.bucket, &grant.key, bytes, content_type)
            .await
        {
            Ok(()) => Ok(()),
            Err(PortError::ConditionFailed) => Err(already_uploaded(grant)),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn put_object(
        &self,
        body: &[u8],
        content_type: &str,
    ) -> Result<OssResponse, OssError> {
        let size = body.len() as u64;
        if size > self.grant.max_bytes {
            return Err(too_large(size, self.grant.max_bytes));
        }
        self.check_waiting().await?;
        let etag = md5_hex(body);
        self.create(body.to_vec(), content_type).await?;
        self.clear_uploads().await;
        tracing::info!(size, "object uploaded");
        Ok(written(&etag))
    }

    pub(super) async fn initiate(&self, key: &str) -> Result<OssResponse, OssError> {
        self.check_waiting().await?;
        match self
            .app
            .objects
            .read_head(&self.grant.bucket, &self.grant.key, 1)
            .await
        {
            Err(PortError::NotFound) => {}
            Ok(_) => return Err(already_uploaded(self.grant)),
            Err(e) => return Err(e.into()),
        }
        let open = self
            .app
            .files
            .list(&self.grant.bucket, &self.uploads_folder())
            .await?
            .iter()
            .filter(|k| k.ends_with(STARTED))
            .count();
        if open >= MAX_OPEN_UPLOADS {
            return Err(bad(
                "TooManyUploads",
                format!(
                    "{open} multipart uploads of this object are open; complete or abort one \
                     (AbortMultipartUpload) before starting another"
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let marker = format!("{}{STARTED}", self.folder(&id));
        self.app
            .files
            .put(
                &self.grant.bucket,
                &marker,
                Vec::new(),
                "application/octet-stream",
            )
            .await?;
        tracing::info!(upload_id = %id, "multipart upload started");
        Ok(xml_answer(xml::initiated(&self.grant.bucket, key, &id)))
    }

    /// The upload's stored parts in number order; `NoSuchUpload` if it was not started.
    pub(super) async fn parts(&self, upload_id: &str) -> Result<Vec<PartInfo>, OssError> {
        let folder = self.folder(upload_id);
        let keys = self.app.files.list(&self.grant.bucket, &folder).await?;
        if !keys.iter().any(|k| k.ends_with(STARTED)) {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "NoSuchUpload",
                format!(
                    "the upload {upload_id} does not exist (never started, completed or aborted)"
                ),
            ));
        }
        let mut parts: Vec<PartInfo> = keys
            .iter()
            .filter_map(|k| part_of(k.strip_prefix(&folder)?))
            .collect();
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    pub(super) async fn put_part(
        &self,
        upload_id: &str,
        number: u32,
        body: &[u8],
    ) -> Result<OssResponse, OssError> {
        // No read of the image record per part: once the object is written, or the image
        // deleted, its uploads' parts are gone and `parts` answers `NoSuchUpload`.
        let parts = self.parts(upload_id).await?;
        let others: u64 = parts
            .iter()
            .filter(|p| p.number != number)
            .map(|p| p.size)
            .sum();
        let size = others + body.len() as u64;
        if size > self.grant.max_bytes {
            return Err(too_large(size, self.grant.max_bytes));
        }
        let etag = md5_hex(body);
        let folder = self.folder(upload_id);
        let name = format!("{folder}{number:05}-{etag}-{}", body.len());
        self.app
            .files
            .put(
                &self.grant.bucket,
                &name,
                body.to_vec(),
                "application/octet-stream",
            )
            .await?;
        // A part sent again replaces the one before it.
        for old in parts
            .iter()
            .filter(|p| p.number == number && p.etag != etag)
        {
            let old_name = format!("{folder}{:05}-{}-{}", old.number, old.etag, old.size);
            self.app
                .objects
                .delete(&self.grant.bucket, &old_name)
                .await?;
        }
        Ok(written(&etag))
    }

    pub(super) async fn complete(
        &self,
        upload_id: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<OssResponse, OssError> {
        let asked = xml::parts_to_complete(body)
            .map_err(|why| bad("MalformedXML", format!("CompleteMultipartUpload: {why}")))?;
        if asked.is_empty() {
            return Err(bad("MalformedXML", "CompleteMultipartUpload names no part"));
        }
        if asked.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(bad(
                "InvalidPartOrder",
                "the parts must be listed once each, in ascending order of PartNumber",
            ));
        }
        let stored = self.parts(upload_id).await?;
        self.check_waiting().await?;
        let mut chosen = Vec::with_capacity(asked.len());
        for (number, etag) in &asked {
            let part = stored
                .iter()
                .find(|p| p.number == *number && p.etag.eq_ignore_ascii_case(etag))
                .ok_or_else(|| {
                    bad(
                        "InvalidPart",
                        format!(
                            "part {number} with ETag {} was not uploaded to this upload",
                            quote(etag)
                        ),
                    )
                })?;
            chosen.push(part.clone());
        }
        let size: u64 = chosen.iter().map(|p| p.size).sum();
        if size > self.grant.max_bytes {
            return Err(too_large(size, self.grant.max_bytes));
        }
        let folder = self.folder(upload_id);
        let mut whole = Vec::with_capacity(size as usize);
        let mut digests = Vec::with_capacity(chosen.len() * 16);
        for part in &chosen {
            let name = format!("{folder}{:05}-{}-{}", part.number, part.etag, part.size);
            let bytes = self
                .app
                .files
                .get(&self.grant.bucket, &name, part.size)
                .await?;
            digests.extend_from_slice(&Md5::digest(&bytes));
            whole.extend_from_slice(&bytes);
        }
        self.create(whole, content_type).await?;
        let etag = format!("{}-{}", md5_hex(&digests), chosen.len());
        self.clear_uploads().await;
        tracing::info!(size, parts = chosen.len(), "multipart upload completed");
        let location = format!(
            "{}/{}",
            self.app.config.bucket_url(&self.grant.bucket),
            self.grant.key
        );
        Ok(xml_answer(xml::completed(
            &location,
            &self.grant.bucket,
            &self.grant.key,
            &etag,
        )))
    }
}

/// Where the parts of an image's multipart uploads wait, in its upload bucket.
pub fn uploads_folder(tenant_key: &str, image_id: &str) -> String {
    format!("multipart/{tenant_key}/{image_id}/")
}

/// A part's number, MD5 and size from its stored name `<number>-<MD5>-<size>`.
fn part_of(name: &str) -> Option<PartInfo> {
    let mut fields = name.splitn(3, '-');
    let number = fields.next()?.parse().ok()?;
    let etag = fields.next()?.to_string();
    let size = fields.next()?.parse().ok()?;
    (etag.len() == 32).then_some(PartInfo { number, etag, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip() {
        let name = format!("00007-{}-123", md5_hex(b"x"));
        assert_eq!(
            part_of(&name),
            Some(PartInfo {
                number: 7,
                etag: md5_hex(b"x"),
                size: 123
            })
        );
        assert_eq!(part_of(STARTED), None);
        assert_eq!(part_of("00001-short-3"), None);
    }
}
