//! Buckets as folders under the data folder: `buckets/<bucket>/<key>`, a key's `/` a
//! folder, so copying files in fills a bucket. A write goes to a temporary file beside the
//! buckets and is renamed into place: an object appears whole or not at all. Bucket names
//! are S3's; keys that would leave their bucket (`..`, `.`, empty parts, absolute paths,
//! NUL, backslashes) or that no file system could hold are refused.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;

use super::signed_urls::{Grant, UrlSigner};
use crate::error::PortError;
use crate::ports::{FileStore, ObjectHead, RoleAssumer, TaskStorage};
use crate::task::model::S3Location;

/// S3's longest key, in bytes.
const MAX_KEY_BYTES: usize = 1024;
/// The longest name most file systems take for one part of a path.
const MAX_PART_BYTES: usize = 255;

#[derive(Clone)]
pub struct Buckets(Arc<Inner>);

struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    signer: UrlSigner,
}

/// An upload in a temporary file, on its way to its place.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    dest: PathBuf,
    pub info: ObjectInfo,
}

/// An object as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
}

/// Whether `name` is a bucket name S3 would take: 3 to 63 lowercase letters, digits, `-`
/// and `.`, starting and ending with a letter or digit.
pub fn valid_bucket(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// Why a key cannot name a file in a bucket, if it cannot.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Some("is longer than 1024 bytes");
    }
    if key.contains(['\0', '\\']) {
        return Some("contains NUL or a backslash");
    }
    for part in key.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Some("has an empty, '.' or '..' part (or starts or ends with '/')");
        }
        if part.len() > MAX_PART_BYTES {
            return Some("has a part longer than 255 bytes");
        }
    }
    None
}

fn io_error(context: &'static str) -> impl FnOnce(std::io::Error) -> PortError {
    move |e| match e.kind() {
        std::io::ErrorKind::NotFound => PortError::NotFound,
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            PortError::Unavailable(format!(
                "the data folder's disk is full ({context}); nothing was kept: free space and retry"
            ))
        }
        _ => PortError::backend(context, e),
    }
}

/// An object's version: its size and modification time.
fn etag_of(metadata: &std::fs::Metadata) -> String {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    format!("{:x}-{:x}", metadata.len(), modified.as_nanos())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    crate::blocking::run(work)
        .await
        .map_err(|e| PortError::backend("a file operation", e))?
}

impl Buckets {
    /// Buckets under `root`, temporary files under `tmp` (on the same file system).
    pub fn new(root: PathBuf, tmp: PathBuf, signer: UrlSigner) -> Result<Buckets, PortError> {
        for dir in [&root, &tmp] {
            std::fs::create_dir_all(dir).map_err(io_error("making the data folder"))?;
        }
        Ok(Buckets(Arc::new(Inner { root, tmp, signer })))
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.0.signer
    }

    /// Makes a bucket (a no-op when it exists).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), PortError> {
        let path = self.bucket_path(bucket)?;
        std::fs::create_dir_all(path).map_err(io_error("making a bucket"))
    }

    /// The buckets there are, by name.
    pub fn bucket_names(&self) -> Result<Vec<String>, PortError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0.root)
            .map_err(io_error("listing buckets"))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_bucket(n))
            .collect();
        names.sort();
        Ok(names)
    }

    fn bucket_path(&self, bucket: &str) -> Result<PathBuf, PortError> {
        if !valid_bucket(bucket) {
            return Err(PortError::Denied(format!(
                "{} is not a bucket name (3 to 63 lowercase letters, digits, '-' and '.')",
                crate::error::quote(bucket)
            )));
        }
        Ok(self.0.root.join(bucket))
    }

    /// The file of an object; the bucket must exist.
    pub fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, PortError> {
        let dir = self.bucket_path(bucket)?;
        if let Some(problem) = key_problem(key) {
            return Err(PortError::Denied(format!(
                "the key {} {problem}",
                crate::error::quote(key)
            )));
        }
        if !dir.is_dir() {
            return Err(PortError::NotFound);
        }
        Ok(key.split('/').fold(dir, |path, part| path.join(part)))
    }

    /// A new temporary file beside the buckets.
    fn temporary(&self) -> Result<(PathBuf, std::fs::File), PortError> {
        let path = self.0.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let file = std::fs::File::create_new(&path).map_err(io_error("writing a file"))?;
        Ok((path, file))
    }

    /// Moves a finished temporary file to `dest`; with `new_only`, only if nothing is there
    /// (`ConditionFailed` otherwise). The temporary file is gone either way.
    fn place(&self, temporary: &Path, dest: &Path, new_only: bool) -> Result<(), PortError> {
        let placed = (|| {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io_error("writing a file"))?;
            }
            if new_only {
                // A hard link fails if the name is taken: no check can race another writer.
                return match std::fs::hard_link(temporary, dest) {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Err(PortError::ConditionFailed)
                    }
                    other => other.map_err(io_error("writing a file")),
                };
            }
            std::fs::rename(temporary, dest).map_err(io_error("writing a file"))
        })();
        let _ = std::fs::remove_file(temporary);
        placed
    }

    fn write_whole(&self, dest: &Path, bytes: &[u8], new_only: bool) -> Result<(), PortError> {
        let (path, mut file) = self.temporary()?;
        let written = file.write_all(bytes).map_err(io_error("writing a file"));
        drop(file);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.place(&path, dest, new_only)
    }

    /// Streams an upload for `bucket`/`key` into a temporary file: past `max_bytes` the
    /// upload stops with `TooLarge` and nothing is kept. [`Buckets::place_staged`] then
    /// puts it in place whole.
    pub async fn stage<S, E>(
        &self,
        bucket: &str,
        key: &str,
        mut body: S,
        max_bytes: u64,
    ) -> Result<Staged, PortError>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let dest = self.object_path(bucket, key)?;
        let path = self.0.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let mut file = tokio::fs::File::create_new(&path)
            .await
            .map_err(io_error("writing an upload"))?;
        let mut size = 0u64;
        let streamed: Result<std::fs::Metadata, PortError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| PortError::backend("reading an upload", e))?;
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(PortError::TooLarge {
                        size,
                        limit: max_bytes,
                    });
                }
                file.write_all(&chunk)
                    .await
                    .map_err(io_error("writing an upload"))?;
            }
            file.flush().await.map_err(io_error("writing an upload"))?;
            file.metadata().await.map_err(io_error("writing an upload"))
        }
        .await;
        drop(file);
        match streamed {
            // A rename keeps the size and time: the version is known before it is placed.
            Ok(metadata) => Ok(Staged {
                path,
                dest,
                info: ObjectInfo {
                    size: metadata.len(),
                    etag: etag_of(&metadata),
                },
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(e)
            }
        }
    }

    /// Puts a staged upload in place: the object appears whole. With `new_only`, only if
    /// its key is free: `ConditionFailed` when an object is there (nothing changes then).
    pub async fn place_staged(
        &self,
        staged: Staged,
        new_only: bool,
    ) -> Result<ObjectInfo, PortError> {
        let this = self.clone();
        blocking(move || {
            this.place(&staged.path, &staged.dest, new_only)?;
            Ok(staged.info)
        })
        .await
    }

    /// An object's file, opened for reading, and what it is.
    pub fn open(&self, bucket: &str, key: &str) -> Result<(std::fs::File, ObjectInfo), PortError> {
        let path = self.object_path(bucket, key)?;
        let file = std::fs::File::open(&path).map_err(io_error("reading a file"))?;
        let metadata = file.metadata().map_err(io_error("reading a file"))?;
        if !metadata.is_file() {
            return Err(PortError::NotFound);
        }
        Ok((
            file,
            ObjectInfo {
                size: metadata.len(),
                etag: etag_of(&metadata),
            },
        ))
    }

    fn read_all(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PortError> {
        let (file, info) = self.open(bucket, key)?;
        if info.size > max_bytes {
            return Err(PortError::TooLarge {
                size: info.size,
                limit: max_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(info.size as usize);
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io_error("reading a file"))?;
        Ok(bytes)
    }

    /// Every key under `prefix` in `bucket`, in key order.
    fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let root = self.bucket_path(bucket)?;
        if !root.is_dir() {
            return Err(PortError::NotFound);
        }
        // Only the folder the prefix's complete parts name can hold its keys.
        let (folder, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        if !folder.is_empty() && key_problem(folder).is_some() {
            return Ok(Vec::new());
        }
        let start = folder
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(root.clone(), |path, part| path.join(part));
        let mut keys = Vec::new();
        let mut pending = vec![start];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(PortError::backend("listing a bucket", e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| PortError::backend("listing a bucket", e))?;
                let path = entry.path();
                let file_type = entry
                    .file_type()
                    .map_err(|e| PortError::backend("listing a bucket", e))?;
                if file_type.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(&root) else {
                    continue;
                };
                let Some(key) = relative
                    .iter()
                    .map(|p| p.to_str())
                    .collect::<Option<Vec<_>>>()
                    .map(|parts| parts.join("/"))
                else {
                    continue;
                };
                if key.starts_with(prefix) {
                    keys.push(key);
                }
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    fn multipart_dir(&self, upload_id: &str) -> Result<PathBuf, PortError> {
        if upload_id.is_empty() || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PortError::NotFound);
        }
        Ok(self.0.tmp.join(format!("multipart-{upload_id}")))
    }

    /// A signed URL that lets `method` reach that one object until `ttl` from now.
    pub fn grant_url(
        &self,
        method: &'static str,
        bucket: &str,
        key: &str,
        ttl: Duration,
        filename: Option<&str>,
    ) -> Result<String, PortError> {
        // A URL for an object that can never exist is refused now, not when used.
        self.bucket_path(bucket)?;
        if let Some(problem) = key_problem(key) {
            return Err(PortError::Denied(format!("the key {problem}")));
        }
        let expires = Utc::now().timestamp() + ttl.as_secs() as i64;
        Ok(self.0.signer.url(&Grant {
            method,
            bucket,
            key,
            expires,
            filename,
        }))
    }
}

impl Buckets {
    /// Up to `max_bytes` from the start of an object, with its size and version.
    pub async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectHead, PortError> {
        let this = self.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let (file, info) = this.open(&bucket, &key)?;
            let mut bytes = Vec::new();
            file.take(max_bytes)
                .read_to_end(&mut bytes)
                .map_err(io_error("reading a file"))?;
            Ok(ObjectHead {
                bytes: bytes.into(),
                total_size: info.size,
                etag: info.etag,
            })
        })
        .await
    }

    /// Deletes an object; one that is not there is no error.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        let path = self.object_path(bucket, key)?;
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(PortError::backend("deleting a file", e))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl FileStore for Buckets {
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PortError> {
        let this = self.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || this.read_all(&bucket, &key, max_bytes)).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), PortError> {
        let dest = self.object_path(bucket, key)?;
        let this = self.clone();
        blocking(move || this.write_whole(&dest, &bytes, false)).await
    }

    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), PortError> {
        let dest = self.object_path(bucket, key)?;
        let this = self.clone();
        blocking(move || this.write_whole(&dest, &bytes, true)).await
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<(), PortError> {
        let this = self.clone();
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        blocking(move || {
            for key in this.keys(&bucket, &prefix)? {
                let path = this.object_path(&bucket, &key)?;
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(PortError::backend("deleting files", e));
                    }
                    _ => {}
                }
                // Folders left empty go too (a folder still holding files stays).
                let root = this.bucket_path(&bucket)?;
                let mut dir = path.parent().map(Path::to_path_buf);
                while let Some(d) = dir.filter(|d| *d != root) {
                    if std::fs::remove_dir(&d).is_err() {
                        break;
                    }
                    dir = d.parent().map(Path::to_path_buf);
                }
            }
            Ok(())
        })
        .await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let this = self.clone();
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        blocking(move || {
            let mut keys = this.keys(&bucket, &prefix)?;
            keys.truncate(10_001);
            Ok(keys)
        })
        .await
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<String, PortError> {
        self.grant_url("GET", bucket, key, ttl, Some(filename))
    }
}

#[async_trait]
impl TaskStorage for Buckets {
    async fn get(&self, at: &S3Location, max_bytes: u64) -> Result<Vec<u8>, PortError> {
        FileStore::get(self, &at.bucket, &at.key, max_bytes).await
    }

    async fn start_upload(&self, at: &S3Location) -> Result<String, PortError> {
        self.object_path(&at.bucket, &at.key)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.multipart_dir(&id)?;
        tokio::fs::create_dir(&dir)
            .await
            .map_err(io_error("starting an upload"))?;
        Ok(id)
    }

    async fn upload_part(
        &self,
        _at: &S3Location,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<String, PortError> {
        let dir = self.multipart_dir(upload_id)?;
        if !(1..=10_000).contains(&number) {
            return Err(PortError::backend(
                "uploading a part",
                "part numbers are 1 to 10000",
            ));
        }
        let this = self.clone();
        blocking(move || {
            if !dir.is_dir() {
                return Err(PortError::NotFound);
            }
            this.write_whole(&dir.join(format!("{number:05}")), &data, false)?;
            Ok(format!("{number}-{}", data.len()))
        })
        .await
    }

    async fn complete_upload(
        &self,
        at: &S3Location,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<(), PortError> {
        let dir = self.multipart_dir(upload_id)?;
        let dest = self.object_path(&at.bucket, &at.key)?;
        let numbers: Vec<i32> = parts.iter().map(|(n, _)| *n).collect();
        let this = self.clone();
        blocking(move || {
            let (path, mut file) = this.temporary()?;
            let joined = numbers.iter().try_for_each(|n| {
                let mut part = std::fs::File::open(dir.join(format!("{n:05}")))
                    .map_err(io_error("completing an upload"))?;
                std::io::copy(&mut part, &mut file)
                    .map(|_| ())
                    .map_err(io_error("completing an upload"))
            });
            drop(file);
            if let Err(e) = joined {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
            this.place(&path, &dest, false)?;
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        })
        .await
    }

    async fn abort_upload(&self, _at: &S3Location, upload_id: &str) -> Result<(), PortError> {
        let dir = self.multipart_dir(upload_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(PortError::backend("aborting an upload", e))
            }
            _ => Ok(()),
        }
    }

    async fn put(
        &self,
        at: &S3Location,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        FileStore::put(self, &at.bucket, &at.key, data, content_type).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        max: usize,
    ) -> Result<(Vec<String>, bool), PortError> {
        let this = self.clone();
        let (bucket, prefix, start_after) = (
            bucket.to_string(),
            prefix.to_string(),
            start_after.to_string(),
        );
        blocking(move || {
            let keys = this.keys(&bucket, &prefix)?;
            let from = keys.partition_point(|k| k.as_str() <= start_after.as_str());
            let rest = &keys[from..];
            let max = max.max(1);
            Ok((rest.iter().take(max).cloned().collect(), rest.len() > max))
        })
        .await
    }
}

/// On one machine there is no STS: a task's roles are recorded, and its buckets are the
/// data folder's.
#[async_trait]
impl RoleAssumer for Buckets {
    async fn storage_as(
        &self,
        _roles: &[String],
        _external_id: &str,
    ) -> Result<Arc<dyn TaskStorage>, PortError> {
        Ok(Arc::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_leave_their_bucket_are_refused() {
        for bad in [
            "",
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "nul\0byte",
            "back\\slash",
        ] {
            assert!(key_problem(bad).is_some(), "{bad:?}");
        }
        assert!(key_problem(&"k".repeat(1025)).is_some());
        assert!(key_problem(&format!("{}/b", "p".repeat(256))).is_some());
        for good in [
            "a.png",
            "images/x/y.jpg",
            "ünï cødé/ファイル.png",
            "..a/b..",
            "a b",
        ] {
            assert_eq!(key_problem(good), None, "{good:?}");
        }
        assert!(valid_bucket("folio-uploads"));
        for bad in ["..", "Up", "ab", "a..b", "-ab", "ab-", "a/b", "a_b"] {
            assert!(!valid_bucket(bad), "{bad:?}");
        }
    }
}
