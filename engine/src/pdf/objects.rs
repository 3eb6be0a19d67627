//! A streaming PDF object writer: objects go to the sink as they are made, and only their
//! byte offsets stay in memory, for the cross-reference table written at the end.

use std::io::{self, Write};

/// Counts what passes through, so object offsets are known without seeking.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An object number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref(pub u32);

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} 0 R", self.0)
    }
}

pub struct ObjectWriter<W: Write> {
    out: Counting<W>,
    /// Offset of object `i + 1`; `None` while reserved but not yet written.
    offsets: Vec<Option<u64>>,
}

impl<W: Write> ObjectWriter<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut out = Counting {
            inner: out,
            written: 0,
        };
        // The binary comment tells transfer tools the file is not text.
        out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        Ok(ObjectWriter {
            out,
            offsets: Vec::new(),
        })
    }

    /// The sink, for a caller that moves out what was written so far (parts of an upload).
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.out.inner
    }

    /// A number for an object written later.
    pub fn reserve(&mut self) -> Ref {
        self.offsets.push(None);
        Ref(self.offsets.len() as u32)
    }

    fn begin(&mut self, id: Ref) -> io::Result<()> {
        self.offsets[id.0 as usize - 1] = Some(self.out.written);
        writeln!(self.out, "{} 0 obj", id.0)
    }

    /// Writes `id` as a dictionary (`dict` is its inside, without `<<` `>>`).
    pub fn dict(&mut self, id: Ref, dict: &str) -> io::Result<()> {
        self.begin(id)?;
        write!(self.out, "<<{dict}>>\nendobj\n")
    }

    /// Writes `id` as a stream with its dictionary entries (`/Length` is added).
    pub fn stream(&mut self, id: Ref, dict: &str, data: &[u8]) -> io::Result<()> {
        self.begin(id)?;
        write!(self.out, "<<{dict}/Length {}>>\nstream\n", data.len())?;
        self.out.write_all(data)?;
        self.out.write_all(b"\nendstream\nendobj\n")
    }

    /// Writes objects serialised elsewhere: `bytes` holds them whole, `objects` gives each
    /// one's number (reserved here) and offset in `bytes`.
    pub fn raw(&mut self, bytes: &[u8], objects: &[(u32, usize)]) -> io::Result<()> {
        let base = self.out.written;
        for &(id, offset) in objects {
            let slot = self
                .offsets
                .get_mut((id as usize).wrapping_sub(1))
                .ok_or_else(|| io::Error::other("an object number was not reserved"))?;
            *slot = Some(base + offset as u64);
        }
        self.out.write_all(bytes)
    }

    /// Writes the cross-reference table and trailer; returns the sink and the file size.
    pub fn finish(mut self, root: Ref, info: Option<Ref>) -> io::Result<(W, u64)> {
        let xref = self.out.written;
        let count = self.offsets.len() + 1;
        write!(self.out, "xref\n0 {count}\n0000000000 65535 f \n")?;
        for offset in &self.offsets {
            let offset = offset
                .ok_or_else(|| io::Error::other("an object was reserved but never written"))?;
            writeln!(self.out, "{offset:010} 00000 n ")?;
        }
        let info = info.map(|i| format!("/Info {i}")).unwrap_or_default();
        write!(
            self.out,
            "trailer\n<</Size {count}/Root {root}{info}>>\nstartxref\n{xref}\n%%EOF\n"
        )?;
        self.out.flush()?;
        Ok((self.out.inner, self.out.written))
    }
}

/// A PDF name from a known-safe ASCII identifier, or a number formatted compactly.
pub fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A hex string `<...>` of bytes.
pub fn hex_string(bytes: &[u8]) -> String {
    format!("<{}>", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_at_their_objects() {
        let mut w = ObjectWriter::new(Vec::new()).unwrap();
        let a = w.reserve();
        let b = w.reserve();
        w.stream(b, "", b"xyz").unwrap();
        w.dict(a, &format!("/Type/Catalog/X {b}")).unwrap();
        let (bytes, size) = w.finish(a, None).unwrap();
        assert_eq!(size as usize, bytes.len());
        let find = |needle: &[u8]| {
            bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap()
        };
        let xref = find(b"xref\n");
        let table = String::from_utf8(bytes[xref..].to_vec()).unwrap();
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take(2)
            .map(|l| l[..10].parse().unwrap())
            .collect();
        assert!(bytes[entries[0]..].starts_with(b"1 0 obj"));
        assert!(bytes[entries[1]..].starts_with(b"2 0 obj"));
        assert!(table.ends_with(&format!("startxref\n{xref}\n%%EOF\n")));
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(num(72.0), "72");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1.0 / 3.0), "0.3333");
    }

    #[test]
    fn unfinished_objects_are_an_error() {
        let mut w = ObjectWriter::new(Vec::new()).unwrap();
        let a = w.reserve();
        let _never = w.reserve();
        w.dict(a, "/Type/Catalog").unwrap();
        assert!(w.finish(a, None).is_err());
    }
}
