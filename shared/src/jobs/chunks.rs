//! Chunked uploads: the pieces of one file sent to `upload-file` with the same
//! `x-oc-upload-uuid` and each its `Content-Range: bytes <start>-<end>/<total>`. Each piece is
//! stored, then recorded on the job with an atomic set addition (a piece sent twice counts
//! once); the request whose piece makes the file whole joins the pieces into one upload.

use sha2::{Digest, Sha256};

use super::http::V2Error;
use super::model::JobRecord;
use super::transfer::Upload;
use crate::app::App;
use crate::error::quote;

/// `bytes <start>-<end>/<total>`, inclusive, as HTTP writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRange {
    pub start: u64,
    pub end: u64,
    pub total: u64,
}

impl ChunkRange {
    pub fn parse(text: &str) -> Result<ChunkRange, String> {
        let bad = || format!("{} is not bytes <start>-<end>/<total>", quote(text));
        let spec = text.trim().strip_prefix("bytes ").ok_or_else(bad)?;
        let (span, total) = spec.split_once('/').ok_or_else(bad)?;
        let (start, end) = span.split_once('-').ok_or_else(bad)?;
        let number = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
        let range = ChunkRange {
            start: number(start)?,
            end: number(end)?,
            total: number(total)?,
        };
        if range.start > range.end || range.end >= range.total {
            return Err(format!("{}: the range is not within the file", quote(text)));
        }
        Ok(range)
    }

    pub fn bytes(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// The key a client's upload id is kept under (its digest: any text the client sends is safe).
fn upload_key(uuid: &str) -> String {
    hex::encode(&Sha256::digest(uuid.as_bytes())[..16])
}

fn chunk_key(job: &JobRecord, upload: &str, start: u64) -> String {
    format!("{}chunks/{upload}/{start:015}", super::files_prefix(job))
}

/// Stores one piece; the whole file once its last piece is in, else `None`.
pub(super) async fn receive(
    app: &App,
    job: &JobRecord,
    uuid: &str,
    range: ChunkRange,
    piece: Upload,
    max_bytes: u64,
) -> Result<Option<Upload>, V2Error> {
    if uuid.is_empty() || uuid.len() > 256 {
        return Err(V2Error::bad(
            "x-oc-upload-uuid",
            "must be 1 to 256 characters",
        ));
    }
    if range.total > max_bytes {
        return Err(V2Error::LimitExceeded(format!(
            "{} is {} bytes; limits.input.max_file_size allows {max_bytes}",
            piece.filename, range.total
        )));
    }
    if piece.bytes.len() as u64 != range.bytes() {
        return Err(V2Error::bad(
            "Content-Range",
            format!(
                "names {} bytes but the piece has {}",
                range.bytes(),
                piece.bytes.len()
            ),
        ));
    }
    let upload = upload_key(uuid);
    let bucket = app.config.default_bucket();
    app.files
        .put(
            bucket,
            &chunk_key(job, &upload, range.start),
            piece.bytes,
            "application/octet-stream",
        )
        .await?;
    let mut pieces = app
        .jobs
        .record_chunk(&job.id, &upload, range.start, range.bytes())
        .await?;
    pieces.sort_unstable();
    // The last piece in joins them, once (a last piece sent twice is answered like any
    // other piece the second time).
    if !whole(&pieces, range.total) || !app.jobs.claim_chunks(&job.id, &upload).await? {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(range.total as usize);
    for (start, _) in &pieces {
        let piece = app
            .files
            .get(bucket, &chunk_key(job, &upload, *start), max_bytes)
            .await?;
        bytes.extend_from_slice(&piece);
    }
    app.files
        .delete_prefix(
            bucket,
            &format!("{}chunks/{upload}/", super::files_prefix(job)),
        )
        .await?;
    Ok(Some(Upload {
        filename: piece.filename,
        bytes,
    }))
}

/// Whether the pieces (start, length), in order, make the whole file: from 0 to `total`,
/// each starting where the one before ended.
fn whole(pieces: &[(u64, u64)], total: u64) -> bool {
    let mut next = 0;
    for (start, len) in pieces {
        if *start != next {
            return false;
        }
        next += len;
    }
    next == total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_http_writes_them() {
        assert_eq!(
            ChunkRange::parse("bytes 0-1048575/5230812").unwrap(),
            ChunkRange {
                start: 0,
                end: 1_048_575,
                total: 5_230_812
            }
        );
        assert_eq!(ChunkRange::parse("bytes 10-19/20").unwrap().bytes(), 10);
        for bad in [
            "0-9/10",
            "bytes 9-0/10",
            "bytes 0-10/10",
            "bytes a-b/c",
            "bytes 0-9",
        ] {
            assert!(ChunkRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_file_is_whole_when_its_pieces_meet() {
        assert!(whole(&[(0, 5), (5, 5)], 10));
        assert!(!whole(&[(5, 5)], 10));
        assert!(!whole(&[(0, 6), (5, 5)], 10), "overlap");
        assert!(!whole(&[(0, 4), (5, 5)], 9), "gap");
    }
}
