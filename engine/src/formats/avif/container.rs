//! The HEIF box structure of an AVIF file, read as far as a still image needs: the primary
//! item (an AV1 image or a grid of them), its alpha, its properties (size, colour, turn,
//! mirror, clean aperture) and its EXIF. Every length is checked against the bytes there are.

use std::collections::HashMap;

/// A reader over one box's payload; every read checks the bytes left.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

const TRUNCATED: &str = "the AVIF file is cut short";

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bytes { data, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or(TRUNCATED)?;
        let bytes = self.data.get(self.at..end).ok_or(TRUNCATED)?;
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An unsigned number of 0, 4 or 8 bytes (iloc's sizes).
    fn sized(&mut self, size: u8) -> Result<u64, String> {
        match size {
            0 => Ok(0),
            4 => Ok(self.u32()?.into()),
            8 => {
                let b = self.take(8)?;
                Ok(u64::from_be_bytes(b.try_into().map_err(|_| TRUNCATED)?))
            }
            other => Err(format!("the AVIF item locations use {other}-byte numbers")),
        }
    }

    /// An item id: 16 bits in version 0 boxes, 32 after.
    fn id(&mut self, wide: bool) -> Result<u32, String> {
        match wide {
            true => self.u32(),
            false => Ok(self.u16()?.into()),
        }
    }

    /// A full box's version (its flags are returned beside it).
    fn version(&mut self) -> Result<(u8, u32), String> {
        let word = self.u32()?;
        Ok(((word >> 24) as u8, word & 0xFF_FFFF))
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.data[self.at.min(self.data.len())..];
        self.at = self.data.len();
        rest
    }
}

/// A box: its type and payload.
type BoxEntry<'a> = ([u8; 4], &'a [u8]);

/// The boxes in `data`, in order.
fn boxes(data: &[u8]) -> Result<Vec<BoxEntry<'_>>, String> {
    let mut out = Vec::new();
    let mut r = Bytes::new(data);
    while r.at < data.len() {
        let start = r.at;
        let size = u64::from(r.u32()?);
        let kind: [u8; 4] = r.take(4)?.try_into().map_err(|_| TRUNCATED)?;
        let size = match size {
            0 => (data.len() - start) as u64,
            1 => r.sized(8)?,
            n => n,
        };
        let header = r.at - start;
        let size = usize::try_from(size).map_err(|_| TRUNCATED)?;
        if size < header || data.len() - start < size {
            return Err(format!(
                "the AVIF box {} runs past its container",
                String::from_utf8_lossy(&kind)
            ));
        }
        out.push((kind, &data[r.at..start + size]));
        r.at = start + size;
    }
    Ok(out)
}

fn find<'a>(boxes: &[BoxEntry<'a>], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
}

/// A colour property.
#[derive(Clone, Debug, PartialEq)]
pub enum Colour {
    /// Coding-independent code points: primaries, transfer, matrix, full range.
    Nclx {
        primaries: u16,
        transfer: u16,
        matrix: u16,
        full_range: bool,
    },
    Icc(Vec<u8>),
}

/// A clean aperture: the crop a decoder applies, as rationals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CleanAperture {
    pub width: (u32, u32),
    pub height: (u32, u32),
    pub horizontal_offset: (i32, u32),
    pub vertical_offset: (i32, u32),
}

#[derive(Clone, Debug, Default)]
pub struct Properties {
    /// `ispe`: the image's stored size.
    pub size: Option<(u32, u32)>,
    pub colours: Vec<Colour>,
    /// `irot`: anticlockwise quarter turns.
    pub quarter_turns: u8,
    /// `imir`: 0 exchanges top and bottom, 1 left and right.
    pub mirror: Option<u8>,
    pub clean_aperture: Option<CleanAperture>,
    /// `auxC`: the auxiliary image's kind (an alpha plane's URN).
    pub auxiliary: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Av1,
    Grid,
    Exif,
    Other,
}

/// Where an item's bytes are: in the file (construction 0) or in the `idat` box (1).
struct Location {
    in_idat: bool,
    extents: Vec<(u64, u64)>,
}

/// The parts of an AVIF file a still image needs.
pub struct Container<'a> {
    file: &'a [u8],
    idat: &'a [u8],
    pub primary: u32,
    kinds: HashMap<u32, ItemKind>,
    locations: HashMap<u32, Location>,
    properties: HashMap<u32, Properties>,
    /// `iref` references: (kind, from) -> to.
    references: Vec<([u8; 4], u32, Vec<u32>)>,
}

/// At most this many items or properties: far more than any still image has.
const MAX_ENTRIES: u32 = 4096;

impl<'a> Container<'a> {
    pub fn parse(file: &'a [u8]) -> Result<Container<'a>, String> {
        let top = boxes(file)?;
        let meta = find(&top, b"meta").ok_or(
            "the AVIF file has no still image (an image sequence without one is not supported)",
        )?;
        let mut r = Bytes::new(meta);
        r.version()?;
        let meta = boxes(r.rest())?;
        let mut container = Container {
            file,
            idat: find(&meta, b"idat").unwrap_or(&[]),
            primary: 0,
            kinds: HashMap::new(),
            locations: HashMap::new(),
            properties: HashMap::new(),
            references: Vec::new(),
        };
        let pitm = find(&meta, b"pitm").ok_or("the AVIF file names no primary image")?;
        let mut r = Bytes::new(pitm);
        let (version, _) = r.version()?;
        container.primary = r.id(version > 0)?;
        if let Some(iinf) = find(&meta, b"iinf") {
            container.read_items(iinf)?;
        }
        let iloc = find(&meta, b"iloc").ok_or("the AVIF file has no item locations")?;
        container.read_locations(iloc)?;
        if let Some(iprp) = find(&meta, b"iprp") {
            container.read_properties(iprp)?;
        }
        if let Some(iref) = find(&meta, b"iref") {
            container.read_references(iref)?;
        }
        Ok(container)
    }

    fn read_items(&mut self, iinf: &[u8]) -> Result<(), String> {
        let mut r = Bytes::new(iinf);
        let (version, _) = r.version()?;
        let count = match version {
            0 => u32::from(r.u16()?),
            _ => r.u32()?,
        };
        if count > MAX_ENTRIES {
            return Err(format!("the AVIF file lists {count} items"));
        }
        for (kind, infe) in boxes(r.rest())? {
            if &kind != b"infe" {
                continue;
            }
            let mut r = Bytes::new(infe);
            let (version, _) = r.version()?;
            if version < 2 {
                continue;
            }
            let id = r.id(version > 2)?;
            r.u16()?; // protection index
            let kind = match r.take(4)? {
                b"av01" => ItemKind::Av1,
                b"grid" => ItemKind::Grid,
                b"Exif" => ItemKind::Exif,
                _ => ItemKind::Other,
            };
            self.kinds.insert(id, kind);
        }
        Ok(())
    }

    fn read_locations(&mut self, iloc: &[u8]) -> Result<(), String> {
        let mut r = Bytes::new(iloc);
        let (version, _) = r.version()?;
        let sizes = r.u8()?;
        let (offset_size, length_size) = (sizes >> 4, sizes & 15);
        let sizes = r.u8()?;
        let base_size = sizes >> 4;
        let index_size = if version > 0 { sizes & 15 } else { 0 };
        let count = match version {
            0 | 1 => u32::from(r.u16()?),
            _ => r.u32()?,
        };
        if count > MAX_ENTRIES {
            return Err(format!("the AVIF file locates {count} items"));
        }
        for _ in 0..count {
            let id = r.id(version > 1)?;
            let method = match version {
                0 => 0,
                _ => r.u16()? & 15,
            };
            r.u16()?; // data reference index: 0, this file
            let base = r.sized(base_size)?;
            let extents = r.u16()?;
            let mut location = Location {
                in_idat: method == 1,
                extents: Vec::new(),
            };
            if method > 1 {
                return Err("the AVIF file builds an item from other items' bytes".into());
            }
            for _ in 0..extents {
                r.sized(index_size)?;
                let offset = r.sized(offset_size)?;
                let length = r.sized(length_size)?;
                let start = base.checked_add(offset).ok_or(TRUNCATED)?;
                location.extents.push((start, length));
            }
            self.locations.insert(id, location);
        }
        Ok(())
    }

    fn read_properties(&mut self, iprp: &[u8]) -> Result<(), String> {
        let iprp = boxes(iprp)?;
        let ipco = boxes(find(&iprp, b"ipco").ok_or("the AVIF file has no property list")?)?;
        if ipco.len() > MAX_ENTRIES as usize {
            return Err(format!("the AVIF file has {} properties", ipco.len()));
        }
        for (kind, ipma) in &iprp {
            if kind != b"ipma" {
                continue;
            }
            let mut r = Bytes::new(ipma);
            let (version, flags) = r.version()?;
            let count = r.u32()?;
            if count > MAX_ENTRIES {
                return Err(format!("the AVIF file gives properties to {count} items"));
            }
            for _ in 0..count {
                let id = r.id(version > 0)?;
                let associations = r.u8()?;
                let properties = self.properties.entry(id).or_default();
                for _ in 0..associations {
                    // The top bit marks the property essential; the rest is its 1-based index.
                    let index = match flags & 1 {
                        1 => usize::from(r.u16()? & 0x7FFF),
                        _ => usize::from(r.u8()? & 0x7F),
                    };
                    if index == 0 {
                        continue;
                    }
                    let (kind, payload) = ipco
                        .get(index - 1)
                        .ok_or("an AVIF property index points past the property list")?;
                    property(properties, kind, payload)?;
                }
            }
        }
        Ok(())
    }

    fn read_references(&mut self, iref: &[u8]) -> Result<(), String> {
        let mut r = Bytes::new(iref);
        let (version, _) = r.version()?;
        for (kind, reference) in boxes(r.rest())? {
            let mut r = Bytes::new(reference);
            let from = r.id(version > 0)?;
            let count = r.u16()?;
            let to = (0..count)
                .map(|_| r.id(version > 0))
                .collect::<Result<Vec<_>, _>>()?;
            self.references.push((kind, from, to));
            if self.references.len() > MAX_ENTRIES as usize {
                return Err("the AVIF file has too many item references".into());
            }
        }
        Ok(())
    }

    pub fn kind(&self, id: u32) -> ItemKind {
        self.kinds.get(&id).copied().unwrap_or(ItemKind::Other)
    }

    /// An item's properties (none stated: all empty).
    pub fn properties(&self, id: u32) -> &Properties {
        static NONE: Properties = Properties {
            size: None,
            colours: Vec::new(),
            quarter_turns: 0,
            mirror: None,
            clean_aperture: None,
            auxiliary: None,
        };
        self.properties.get(&id).unwrap_or(&NONE)
    }

    /// The items that refer to `to` with a reference of `kind` (an alpha plane's `auxl`).
    pub fn referring(&self, kind: [u8; 4], to: u32) -> impl Iterator<Item = u32> + '_ {
        self.references
            .iter()
            .filter(move |(k, _, targets)| *k == kind && targets.contains(&to))
            .map(|(_, from, _)| *from)
    }

    /// The items `from` refers to with a reference of `kind` (a grid's `dimg` tiles, in order).
    pub fn referred(&self, kind: [u8; 4], from: u32) -> Vec<u32> {
        self.references
            .iter()
            .filter(|(k, f, _)| *k == kind && *f == from)
            .flat_map(|(_, _, to)| to.iter().copied())
            .collect()
    }

    /// An item's bytes, its extents joined.
    pub fn data(&self, id: u32) -> Result<Vec<u8>, String> {
        let location = self
            .locations
            .get(&id)
            .ok_or_else(|| format!("the AVIF file does not locate its item {id}"))?;
        let source = if location.in_idat {
            self.idat
        } else {
            self.file
        };
        let mut out = Vec::new();
        for &(start, length) in &location.extents {
            let start = usize::try_from(start).map_err(|_| TRUNCATED)?;
            // A length of 0 runs to the end of the file.
            let end = match length {
                0 => source.len(),
                n => start
                    .checked_add(usize::try_from(n).map_err(|_| TRUNCATED)?)
                    .ok_or(TRUNCATED)?,
            };
            out.extend_from_slice(source.get(start..end).ok_or(TRUNCATED)?);
        }
        Ok(out)
    }

    /// The EXIF item that describes the primary image (refers to it by `cdsc`), from its
    /// TIFF header on.
    pub fn exif(&self) -> Option<Vec<u8>> {
        let id = self
            .referring(*b"cdsc", self.primary)
            .find(|&id| self.kind(id) == ItemKind::Exif)?;
        let data = self.data(id).ok()?;
        // The block starts after a 4-byte offset to its TIFF header.
        let offset = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        data.get(4usize.checked_add(offset)?..).map(<[u8]>::to_vec)
    }
}

fn property(properties: &mut Properties, kind: &[u8; 4], payload: &[u8]) -> Result<(), String> {
    let mut r = Bytes::new(payload);
    match kind {
        b"ispe" => {
            r.version()?;
            properties.size = Some((r.u32()?, r.u32()?));
        }
        b"colr" => match r.take(4)? {
            b"nclx" => properties.colours.push(Colour::Nclx {
                primaries: r.u16()?,
                transfer: r.u16()?,
                matrix: r.u16()?,
                full_range: r.u8()? & 0x80 != 0,
            }),
            b"prof" | b"rICC" => properties.colours.push(Colour::Icc(r.rest().to_vec())),
            _ => {}
        },
        b"irot" => properties.quarter_turns = r.u8()? & 3,
        b"imir" => properties.mirror = Some(r.u8()? & 1),
        b"clap" => {
            let mut pair = || -> Result<(u32, u32), String> { Ok((r.u32()?, r.u32()?)) };
            let (width, height) = (pair()?, pair()?);
            let (h, hd) = pair()?;
            let (v, vd) = pair()?;
            properties.clean_aperture = Some(CleanAperture {
                width,
                height,
                horizontal_offset: (h as i32, hd),
                vertical_offset: (v as i32, vd),
            });
        }
        b"auxC" => {
            r.version()?;
            let urn = r.rest();
            let end = urn.iter().position(|&b| b == 0).unwrap_or(urn.len());
            properties.auxiliary = Some(String::from_utf8_lossy(&urn[..end]).into_owned());
        }
        _ => {}
    }
    Ok(())
}

/// A grid item's layout: rows, columns and the size of the whole.
pub struct Grid {
    pub rows: u32,
    pub columns: u32,
    pub width: u32,
    pub height: u32,
}

impl Grid {
    pub fn parse(data: &[u8]) -> Result<Grid, String> {
        let mut r = Bytes::new(data);
        r.u8()?; // version
        let flags = r.u8()?;
        let rows = u32::from(r.u8()?) + 1;
        let columns = u32::from(r.u8()?) + 1;
        let (width, height) = match flags & 1 {
            1 => (r.u32()?, r.u32()?),
            _ => (r.u16()?.into(), r.u16()?.into()),
        };
        Ok(Grid {
            rows,
            columns,
            width,
            height,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A box of `kind` around `payload`.
    pub(in crate::formats::avif) fn b(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn boxes_that_run_past_their_container_are_refused() {
        let mut data = b(b"ftyp", b"avif");
        data[3] = 200;
        assert!(boxes(&data).unwrap_err().contains("runs past"));
        assert!(boxes(&[0, 0, 0]).is_err());
        // A box smaller than its own header.
        assert!(boxes(&[0, 0, 0, 4, b'm', b'e', b't', b'a']).is_err());
    }

    #[test]
    fn a_file_without_meta_is_refused_by_name() {
        let data = b(b"ftyp", b"avis\0\0\0\0avis");
        let err = Container::parse(&data).err().unwrap();
        assert!(err.contains("no still image"), "{err}");
    }
}
