//! The XML bodies of the OSS operations Folio answers, and the one it reads
//! (`CompleteMultipartUpload`'s list of parts).

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The longest `CompleteMultipartUpload` body read: 10,000 parts of about 100 bytes each.
pub const MAX_COMPLETE_BODY: usize = 1 << 20;

/// OSS's `<Error>` body.
pub fn error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "{DECLARATION}\n<Error>\n  <Code>{}</Code>\n  <Message>{}</Message>\n  \
         <RequestId>{}</RequestId>\n  <HostId>folio</HostId>\n</Error>\n",
        escape(code),
        escape(message),
        escape(request_id)
    )
}

pub fn initiated(bucket: &str, key: &str, upload_id: &str) -> String {
    format!(
        "{DECLARATION}\n<InitiateMultipartUploadResult>\n  <Bucket>{}</Bucket>\n  \
         <Key>{}</Key>\n  <UploadId>{}</UploadId>\n</InitiateMultipartUploadResult>\n",
        escape(bucket),
        escape(key),
        escape(upload_id)
    )
}

/// One stored part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    pub number: u32,
    /// The part's MD5, uppercase hex (OSS's part `ETag`, unquoted).
    pub etag: String,
    pub size: u64,
}

pub fn part_list(bucket: &str, key: &str, upload_id: &str, parts: &[PartInfo]) -> String {
    let mut body = format!(
        "{DECLARATION}\n<ListPartsResult>\n  <Bucket>{}</Bucket>\n  <Key>{}</Key>\n  \
         <UploadId>{}</UploadId>\n  <PartNumberMarker>0</PartNumberMarker>\n  \
         <NextPartNumberMarker>{}</NextPartNumberMarker>\n  <MaxParts>10000</MaxParts>\n  \
         <IsTruncated>false</IsTruncated>\n",
        escape(bucket),
        escape(key),
        escape(upload_id),
        parts.last().map_or(0, |p| p.number)
    );
    for part in parts {
        body.push_str(&format!(
            "  <Part>\n    <PartNumber>{}</PartNumber>\n    \
             <LastModified>1970-01-01T00:00:00.000Z</LastModified>\n    \
             <ETag>\"{}\"</ETag>\n    <Size>{}</Size>\n  </Part>\n",
            part.number, part.etag, part.size
        ));
    }
    body.push_str("</ListPartsResult>\n");
    body
}

pub fn completed(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    format!(
        "{DECLARATION}\n<CompleteMultipartUploadResult>\n  <Location>{}</Location>\n  \
         <Bucket>{}</Bucket>\n  <Key>{}</Key>\n  <ETag>\"{}\"</ETag>\n\
         </CompleteMultipartUploadResult>\n",
        escape(location),
        escape(bucket),
        escape(key),
        escape(etag)
    )
}

/// The `(PartNumber, ETag)` pairs of a `CompleteMultipartUpload` body, in the order given,
/// the ETags unquoted; `Err` says what is wrong with the body.
pub fn parts_to_complete(body: &[u8]) -> Result<Vec<(u32, String)>, String> {
    if body.len() > MAX_COMPLETE_BODY {
        return Err(format!("the body is longer than {MAX_COMPLETE_BODY} bytes"));
    }
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut parts = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut number: Option<u32> = None;
    let mut etag: Option<String> = None;
    // The current element's text as written (entities still escaped).
    let mut text = String::new();
    let mut buf = Vec::new();
    let not_utf8 = |e: quick_xml::encoding::EncodingError| format!("the body is not UTF-8: {e}");
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("the body is not XML: {e}"))?;
        match event {
            Event::Start(start) => {
                if path.len() > 8 {
                    return Err("the body nests deeper than a part list".into());
                }
                path.push(String::from_utf8_lossy(start.name().as_ref()).into_owned());
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(not_utf8)?),
            Event::GeneralRef(r) => {
                text.push('&');
                text.push_str(&r.decode().map_err(not_utf8)?);
                text.push(';');
            }
            Event::End(_) => {
                let value = || {
                    quick_xml::escape::unescape(&text)
                        .map(|v| v.trim().to_string())
                        .map_err(|e| format!("a value is not valid XML text: {e}"))
                };
                match path.last().map(String::as_str) {
                    Some("PartNumber") => {
                        let v = value()?;
                        number = Some(v.parse().map_err(|_| {
                            format!("PartNumber {} is not a number", crate::error::quote(&v))
                        })?);
                    }
                    Some("ETag") => etag = Some(value()?.trim_matches('"').to_string()),
                    Some("Part") => {
                        let n = number.take().ok_or("a Part without a PartNumber")?;
                        let e = etag.take().ok_or("a Part without an ETag")?;
                        parts.push((n, e));
                        if parts.len() > 10_000 {
                            return Err("more than 10000 parts".into());
                        }
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err("the body ends inside an element".into());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_list_the_sdks_send_is_read() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"3858F62230AC3C915F300C664312C63F"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;ABC&quot;</ETag></Part></CompleteMultipartUpload>"#;
        assert_eq!(
            parts_to_complete(body).unwrap(),
            vec![
                (1, "3858F62230AC3C915F300C664312C63F".to_string()),
                (2, "ABC".to_string())
            ]
        );
    }

    #[test]
    fn bad_part_lists_say_why() {
        for (body, why) in [
            (&b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>"[..], "without a PartNumber"),
            (b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>", "not a number"),
            (b"<CompleteMultipartUpload><Part>", "ends inside"),
            (b"<a></b>", "not XML"),
        ] {
            let error = parts_to_complete(body).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let body = error("AccessDenied", "a <b> & \"c\"", "R");
        assert!(
            body.contains("<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"),
            "{body}"
        );
    }
}
