//! JPEG 2000: a JP2 file is embedded as it is (JPXDecode); a raw codestream is wrapped in a
//! minimal JP2 container first, since PDF's JPXDecode reads the JP2 format. Colour comes
//! from the file; an opacity channel becomes `/SMaskInData 1`.

use super::ximage::{ColorSpace, DEFAULT_DPI, Filter, Prepared, XImage, sane_dpi};

const SIGNATURE: &[u8] = b"\0\0\0\x0cjP  \r\n\x87\n";

/// A box's type and content.
type Jp2Box<'a> = ([u8; 4], &'a [u8]);

/// Top-level or child boxes of `data`.
fn boxes(mut data: &[u8]) -> Result<Vec<Jp2Box<'_>>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let short = || "a JPEG 2000 box is truncated".to_string();
        let len = u32::from_be_bytes(
            data.get(..4)
                .ok_or_else(short)?
                .try_into()
                .map_err(|_| short())?,
        ) as u64;
        let kind: [u8; 4] = data
            .get(4..8)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?;
        let (header, total) = match len {
            0 => (8, data.len() as u64),
            1 => {
                let xl = data.get(8..16).ok_or_else(short)?;
                (16, u64::from_be_bytes(xl.try_into().map_err(|_| short())?))
            }
            n => (8, n),
        };
        if total < header as u64 {
            return Err(short());
        }
        // Some writers overstate the length of the last box, the codestream; what it holds
        // is checked on its own (it must end with its end marker).
        let total = if total > data.len() as u64 && &kind == b"jp2c" {
            data.len() as u64
        } else {
            total
        };
        if total > data.len() as u64 {
            return Err(short());
        }
        out.push((kind, &data[header..total as usize]));
        data = &data[total as usize..];
    }
    Ok(out)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Size and component count from a codestream's SIZ segment, after checking it is whole.
fn codestream_info(cs: &[u8]) -> Result<(u32, u32, u16), String> {
    if !cs.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Err("the JPEG 2000 codestream does not start with SOC and SIZ".into());
    }
    if !cs.ends_with(&[0xFF, 0xD9]) {
        return Err("the JPEG 2000 codestream is truncated: it has no end marker".into());
    }
    let siz = &cs[4..];
    let (x, y, x0, y0) = (be32(siz, 4), be32(siz, 8), be32(siz, 12), be32(siz, 16));
    let components = be16(siz, 36).ok_or("the JPEG 2000 SIZ segment is truncated")?;
    // Each component: depth and sign (Ssiz), horizontal and vertical sampling.
    let specs = siz
        .get(38..38 + 3 * components as usize)
        .ok_or("the JPEG 2000 SIZ segment is truncated")?;
    let first = &specs[..3];
    let uniform = specs.chunks_exact(3).all(|c| c == first);
    if !uniform || (first[0] & 0x7F) > 15 || first[1] == 0 || first[2] == 0 {
        return Err("the JPEG 2000 components differ in depth, sign or sampling, which PDF readers cannot show".into());
    }
    // The decoded image has the size of the component grid.
    let (xr, yr) = (first[1] as u32, first[2] as u32);
    match (x, y, x0, y0) {
        (Some(x), Some(y), Some(x0), Some(y0)) if x > x0 && y > y0 && components > 0 => Ok((
            x.div_ceil(xr) - x0.div_ceil(xr),
            y.div_ceil(yr) - y0.div_ceil(yr),
            components,
        )),
        _ => Err("the JPEG 2000 SIZ segment states no size".into()),
    }
}

fn jp2_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut b = ((content.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(content);
    b
}

/// A JP2 file around a raw codestream: greyscale for one component, sRGB for three.
fn wrap(codestream: &[u8], width: u32, height: u32, components: u16) -> Result<Vec<u8>, String> {
    let colour: u32 = match components {
        1 => 17,
        3 => 16,
        n => {
            return Err(format!(
                "a raw JPEG 2000 codestream with {n} components has no known colour space"
            ));
        }
    };
    let depth = codestream.get(4 + 38).map_or(7, |ssiz| ssiz & 0x7F);
    let mut ihdr = height.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&components.to_be_bytes());
    ihdr.extend_from_slice(&[depth, 7, 0, 0]);
    let mut colr = vec![1, 0, 0];
    colr.extend_from_slice(&colour.to_be_bytes());
    let mut header = jp2_box(b"ihdr", &ihdr);
    header.extend(jp2_box(b"colr", &colr));
    let mut file = SIGNATURE.to_vec();
    file.extend(jp2_box(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    file.extend(jp2_box(b"jp2h", &header));
    file.extend(jp2_box(b"jp2c", codestream));
    Ok(file)
}

/// Capture or display resolution (`res ` box) in dots per inch.
fn resolution(res: &[u8]) -> Option<(f64, f64)> {
    let sub = boxes(res).ok()?;
    let (_, r) = sub
        .iter()
        .find(|(k, _)| k == b"resd")
        .or_else(|| sub.iter().find(|(k, _)| k == b"resc"))?;
    let (vn, vd, hn, hd) = (be16(r, 0)?, be16(r, 2)?, be16(r, 4)?, be16(r, 6)?);
    let (ve, he) = (*r.get(8)? as i8, *r.get(9)? as i8);
    if vd == 0 || hd == 0 {
        return None;
    }
    let per_metre = |n: u16, d: u16, e: i8| n as f64 / d as f64 * 10f64.powi(e as i32);
    Some((
        per_metre(hn, hd, he) * 0.0254,
        per_metre(vn, vd, ve) * 0.0254,
    ))
}

pub fn prepare(data: Vec<u8>) -> Result<Prepared, String> {
    let image = |width, height, components: u16, alpha, stream: Vec<u8>| XImage {
        width,
        height,
        color: if components >= 3 {
            ColorSpace::Rgb
        } else {
            ColorSpace::Gray
        },
        icc: None,
        bits: 8,
        filter: Filter::Jpx {
            smask_in_data: alpha,
        },
        invert: false,
        data: stream,
        smask: None,
    };
    if data.starts_with(&[0xFF, 0x4F]) {
        let (w, h, n) = codestream_info(&data)?;
        return Ok(Prepared {
            image: image(w, h, n, false, wrap(&data, w, h, n)?),
            dpi: (DEFAULT_DPI, DEFAULT_DPI),
            orientation: 1,
        });
    }
    if !data.starts_with(SIGNATURE) {
        return Err("not a JPEG 2000 file".into());
    }
    let top = boxes(&data)?;
    let header = top
        .iter()
        .find(|(k, _)| k == b"jp2h")
        .map(|(_, c)| boxes(c))
        .transpose()?
        .ok_or("the JP2 file has no header box")?;
    let codestream = top
        .iter()
        .find(|(k, _)| k == b"jp2c")
        .map(|(_, c)| *c)
        .ok_or("the JP2 file has no codestream")?;
    let (w, h, n) = codestream_info(codestream)?;
    let alpha = header
        .iter()
        .find(|(k, _)| k == b"cdef")
        .is_some_and(|(_, c)| {
            (0..be16(c, 0).unwrap_or(0) as usize).any(|i| matches!(be16(c, 4 + i * 6), Some(1 | 2)))
        });
    let dpi = header
        .iter()
        .find(|(k, _)| k == b"res ")
        .and_then(|(_, c)| resolution(c))
        .map_or((DEFAULT_DPI, DEFAULT_DPI), |(x, y)| sane_dpi(x, y));
    Ok(Prepared {
        image: image(w, h, n, alpha, data),
        dpi,
        orientation: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A codestream of the given size: SOC, SIZ, then EOC (no tiles: only headers are read).
    fn codestream(w: u32, h: u32, components: u16) -> Vec<u8> {
        let mut cs = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [w, h, 0, 0, w, h, 0, 0] {
            cs.extend_from_slice(&v.to_be_bytes());
        }
        cs.extend_from_slice(&components.to_be_bytes());
        for _ in 0..components {
            cs.extend_from_slice(&[7, 1, 1]);
        }
        cs[5] = 38 + 3 * components as u8;
        cs.extend_from_slice(&[0xFF, 0xD9]);
        cs
    }

    #[test]
    fn raw_codestreams_are_wrapped_and_read_back() {
        let p = prepare(codestream(40, 30, 3)).unwrap();
        assert_eq!((p.image.width, p.image.height), (40, 30));
        let wrapped = prepare(p.image.data.clone()).unwrap();
        assert_eq!((wrapped.image.width, wrapped.image.height), (40, 30));
        assert_eq!(
            wrapped.image.data, p.image.data,
            "a JP2 file is embedded as it is"
        );
    }

    #[test]
    fn truncated_and_broken_files_are_refused() {
        let cs = codestream(4, 4, 1);
        assert!(
            prepare(cs[..cs.len() - 2].to_vec())
                .unwrap_err()
                .contains("truncated")
        );
        let jp2 = prepare(cs.clone()).unwrap().image.data;
        assert!(prepare(jp2[..jp2.len() - 5].to_vec()).is_err());
        assert!(
            prepare(codestream(4, 4, 2))
                .unwrap_err()
                .contains("colour space")
        );
        let mut mixed = codestream(4, 4, 3);
        mixed[4 + 38 + 4] = 2;
        assert!(prepare(mixed).unwrap_err().contains("sampling"));
        // One sampling for all components: the image is the component grid.
        let mut sampled = codestream(76, 13, 1);
        sampled[4 + 38 + 1] = 13;
        let p = prepare(sampled).unwrap();
        assert_eq!((p.image.width, p.image.height), (6, 13));
    }
}
