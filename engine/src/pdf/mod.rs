//! The images-to-PDF engine: an ordered list of images in, one PDF out, written as it goes
//! to any `Write`. The readers in `formats` make each image's pages (compressed data copied
//! wherever PDF can carry it, everything else decoded under limits and re-encoded
//! losslessly); this module places them on pages and writes the PDF's objects, preparing
//! images on several threads ahead of the writer.

mod objects;
pub mod placement;
mod read_ahead;
pub mod units;

use std::io::Write;
use std::panic::AssertUnwindSafe;

use crate::formats::embed::{self, Page};
pub use crate::formats::ximage::DEFAULT_DPI;
use crate::formats::ximage::{self, Filter, Prepared, XImage};
use crate::formats::{Limits, raster, svg};
use objects::{ObjectWriter, Ref, hex_string, num};
pub use placement::{Fit, PageOptions};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The image at `index` (0-based, in the order given) was refused.
    #[error("image {index}: {reason}")]
    Image { index: usize, reason: String },
    #[error("rotation must be 0, 90, 180 or 270 degrees, got {0}")]
    Rotation(u16),
    #[error("no image was added")]
    Empty,
    #[error("writing the PDF failed: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone, Debug, Default)]
pub struct PdfOptions {
    pub page: PageOptions,
    pub limits: Limits,
    /// For images Folio decodes (not copied JPEG, PNG or JPEG 2000 data): store the colour
    /// as a JPEG of this quality (1 to 100) instead of losslessly. Alpha stays lossless.
    pub jpeg_quality: Option<u8>,
}

/// What was written.
#[derive(Debug)]
pub struct PdfSummary<W> {
    pub pages: usize,
    pub bytes: u64,
    pub sink: W,
}

/// Builds a PDF one image at a time; each image is written out before the next is read.
pub struct PdfBuilder<W: Write> {
    objects: ObjectWriter<W>,
    catalog: Ref,
    pages: Ref,
    kids: Vec<Ref>,
    options: PdfOptions,
}

impl<W: Write> PdfBuilder<W> {
    pub fn new(sink: W, options: PdfOptions) -> Result<Self, PdfError> {
        let mut objects = ObjectWriter::new(sink)?;
        let catalog = objects.reserve();
        let pages = objects.reserve();
        Ok(PdfBuilder {
            objects,
            catalog,
            pages,
            kids: Vec::new(),
            options,
        })
    }

    /// Adds the image `data` (the `index`-th of the caller's list) as one page (a page per
    /// page of a TIFF), rotated clockwise by `rotate` degrees on top of its EXIF orientation.
    /// The bytes are taken by value: copied JPEG and JPEG 2000 data goes into the PDF without
    /// another copy, and is dropped once written.
    pub fn add_image(&mut self, index: usize, data: Vec<u8>, rotate: u16) -> Result<(), PdfError> {
        check_rotation(rotate)?;
        let prepared = prepare_image(index, data, &self.options)?;
        self.add_prepared(prepared, rotate)
    }

    /// Writes an image made ready by [`prepare_image`] (perhaps on another thread).
    pub fn add_prepared(&mut self, image: PreparedImage, rotate: u16) -> Result<(), PdfError> {
        check_rotation(rotate)?;
        for page in &image.pages {
            match page {
                Page::Raster(prepared) => self.write_page(prepared, rotate)?,
                Page::Vector(art) => self.write_vector_page(art, rotate)?,
            }
        }
        Ok(())
    }

    /// Adds decoded pixels as one page at `dpi`, stored losslessly (alpha as a soft mask)
    /// or, with the options' `jpeg_quality`, the colour as a JPEG.
    pub fn add_raster(
        &mut self,
        image: image::DynamicImage,
        dpi: (f64, f64),
    ) -> Result<(), PdfError> {
        let prepared = Prepared {
            image: raster::encode(image, self.options.jpeg_quality),
            dpi: ximage::sane_dpi(dpi.0, dpi.1),
            orientation: 1,
        };
        self.write_page(&prepared, 0)
    }

    /// The sink: between images, a caller may move out what was written (the PDF's
    /// offsets are counted apart from it).
    pub fn sink_mut(&mut self) -> &mut W {
        self.objects.sink_mut()
    }

    /// Pages written so far.
    pub fn pages(&self) -> usize {
        self.kids.len()
    }

    pub fn options(&self) -> &PdfOptions {
        &self.options
    }

    fn write_page(&mut self, prepared: &Prepared, rotate: u16) -> Result<(), PdfError> {
        let image = &prepared.image;
        let place = placement::place(
            (image.width.into(), image.height.into()),
            prepared.dpi,
            prepared.orientation,
            rotate,
            &self.options.page,
        );
        let xobject = self.write_image(image)?;
        self.write_page_object(&place, xobject)
    }

    fn write_vector_page(&mut self, art: &svg::VectorArt, rotate: u16) -> Result<(), PdfError> {
        let place = placement::place(
            (art.width, art.height),
            (svg::SVG_DPI, svg::SVG_DPI),
            1,
            rotate,
            &self.options.page,
        );
        let objects = &mut self.objects;
        let art = art
            .renumber(|| objects.reserve().0)
            .map_err(|reason| PdfError::Io(std::io::Error::other(reason)))?;
        self.objects.raw(&art.bytes, &art.objects)?;
        self.write_page_object(&place, Ref(art.form))
    }

    /// Writes a page drawing `xobject` (an image or a form) onto the placement's square.
    fn write_page_object(
        &mut self,
        place: &placement::Placement,
        xobject: Ref,
    ) -> Result<(), PdfError> {
        let [a, b, c, d, e, f] = place.matrix.map(num);
        let content = format!("q {a} {b} {c} {d} {e} {f} cm /Im0 Do Q");
        let content_ref = self.objects.reserve();
        self.objects.stream(content_ref, "", content.as_bytes())?;
        let page = self.objects.reserve();
        let user_unit = if place.user_unit > 1.0 {
            format!("/UserUnit {}", num(place.user_unit))
        } else {
            String::new()
        };
        self.objects.dict(
            page,
            &format!(
                "/Type/Page/Parent {}/MediaBox[0 0 {} {}]{user_unit}/Resources<</XObject<</Im0 {xobject}>>>>/Contents {content_ref}",
                self.pages,
                num(place.media.0),
                num(place.media.1),
            ),
        )?;
        self.kids.push(page);
        Ok(())
    }

    /// Writes an image XObject (and its soft mask and ICC profile); returns its reference.
    fn write_image(&mut self, image: &XImage) -> Result<Ref, PdfError> {
        let smask = match &image.smask {
            Some(mask) => Some(self.write_image(mask)?),
            None => None,
        };
        let color = match (&image.icc, &image.color) {
            (Some(icc), _) => {
                let id = self.objects.reserve();
                let filter = if icc.deflated {
                    "/Filter/FlateDecode"
                } else {
                    ""
                };
                self.objects.stream(
                    id,
                    &format!(
                        "/N {}/Alternate{}{filter}",
                        icc.components,
                        image.color.device_name()
                    ),
                    &icc.data,
                )?;
                format!("[/ICCBased {id}]")
            }
            (None, ximage::ColorSpace::Indexed(palette)) => {
                format!(
                    "[/Indexed/DeviceRGB {} {}]",
                    palette.len() / 3 - 1,
                    hex_string(palette)
                )
            }
            (None, other) => other.device_name().to_string(),
        };
        let mut dict = format!(
            "/Type/XObject/Subtype/Image/Width {}/Height {}",
            image.width, image.height
        );
        if !matches!(image.filter, Filter::Jpx { .. }) {
            dict.push_str(&format!(
                "/ColorSpace{color}/BitsPerComponent {}",
                image.bits
            ));
        }
        match &image.filter {
            Filter::Jpx { smask_in_data } => {
                dict.push_str("/Filter/JPXDecode");
                if *smask_in_data {
                    dict.push_str("/SMaskInData 1");
                }
            }
            Filter::Dct => dict.push_str("/Filter/DCTDecode"),
            Filter::Jbig2 => dict.push_str("/Filter/JBIG2Decode"),
            Filter::Fax(fax) => {
                dict.push_str(&format!(
                    "/Filter/CCITTFaxDecode/DecodeParms<</K {}/Columns {}/Rows {}",
                    fax.k, image.width, image.height
                ));
                if fax.byte_align {
                    dict.push_str("/EncodedByteAlign true");
                }
                if fax.black_is_1 {
                    dict.push_str("/BlackIs1 true");
                }
                dict.push_str(">>");
            }
            Filter::Flate(p) => dict.push_str(&format!(
                "/Filter/FlateDecode/DecodeParms<</Predictor 15/Colors {}/BitsPerComponent {}/Columns {}>>",
                p.colors, p.bits, p.columns
            )),
        }
        if image.invert {
            dict.push_str("/Decode[1 0 1 0 1 0 1 0]");
        } else if image.color == ximage::ColorSpace::Lab {
            dict.push_str("/Decode[0 100 -128 127 -128 127]");
        }
        if let Some(mask) = smask {
            dict.push_str(&format!("/SMask {mask}"));
        }
        let id = self.objects.reserve();
        self.objects.stream(id, &dict, &image.data)?;
        Ok(id)
    }

    pub fn finish(mut self) -> Result<PdfSummary<W>, PdfError> {
        if self.kids.is_empty() {
            return Err(PdfError::Empty);
        }
        let kids: Vec<String> = self.kids.iter().map(Ref::to_string).collect();
        self.objects.dict(
            self.pages,
            &format!("/Type/Pages/Kids[{}]/Count {}", kids.join(" "), kids.len()),
        )?;
        self.objects
            .dict(self.catalog, &format!("/Type/Catalog/Pages {}", self.pages))?;
        let info = self.objects.reserve();
        self.objects.dict(info, "/Producer(Folio)")?;
        let pages = self.kids.len();
        let (sink, bytes) = self.objects.finish(self.catalog, Some(info))?;
        Ok(PdfSummary { pages, bytes, sink })
    }
}

/// The pages of one image, parsed, decoded and compressed, ready to write.
pub struct PreparedImage {
    pages: Vec<Page>,
}

impl PreparedImage {
    /// The first page's size in pixels (a vector page's in CSS pixels, rounded up).
    pub fn first_page_size(&self) -> (u32, u32) {
        match self.pages.first() {
            Some(Page::Raster(p)) => (p.image.width, p.image.height),
            Some(Page::Vector(art)) => (art.width.ceil() as u32, art.height.ceil() as u32),
            None => (0, 0),
        }
    }

    /// The bytes its pages hold (image data and soft masks), what waiting to be written
    /// costs in memory.
    pub fn held_bytes(&self) -> usize {
        let image = |x: &XImage| x.data.len() + x.smask.as_ref().map_or(0, |m| m.data.len());
        self.pages
            .iter()
            .map(|page| match page {
                Page::Raster(p) => image(&p.image),
                Page::Vector(_) => 0,
            })
            .sum()
    }
}

fn check_rotation(rotate: u16) -> Result<(), PdfError> {
    if matches!(rotate, 0 | 90 | 180 | 270) {
        Ok(())
    } else {
        Err(PdfError::Rotation(rotate))
    }
}

/// Does the work an image takes (parsing, and decoding and compressing where it cannot be
/// copied) without writing anything, so images can be prepared on several threads and
/// written in order. Sizes are checked against the limits before any pixel is decoded.
pub fn prepare_image(
    index: usize,
    data: Vec<u8>,
    options: &PdfOptions,
) -> Result<PreparedImage, PdfError> {
    embed::pages(data, &options.limits, options.jpeg_quality)
        .map(|pages| PreparedImage { pages })
        .map_err(|reason| PdfError::Image { index, reason })
}

/// Prepares images `0..count` on `threads` threads, each reading its image with `read` and
/// preparing it, and hands the results to `take` in order, as they are ready: reading and
/// preparing overlap writing. Read-ahead is bounded by bytes, not by images: no image is
/// read while those prepared and not yet written hold [`READ_AHEAD_BYTES`] or more, except
/// the one the writer needs next, so memory stays near the budget plus one image per
/// thread, however many and however large the files are. `take` returns `false` to stop
/// early.
pub fn prepare_pipelined(
    count: usize,
    threads: usize,
    options: &PdfOptions,
    read: &(dyn Fn(usize) -> Result<Vec<u8>, String> + Sync),
    take: &mut dyn FnMut(usize, Result<PreparedImage, PdfError>) -> bool,
) {
    let threads = threads.clamp(1, count.max(1));
    let internal = |index| PdfError::Image {
        index,
        reason: "the image could not be processed (internal error)".into(),
    };
    let budget = read_ahead::Budget::new(READ_AHEAD_BYTES);
    let budget = &budget;
    std::thread::scope(|scope| {
        let receivers: Vec<_> = (0..threads)
            .map(|first| {
                let (sender, receiver) = std::sync::mpsc::sync_channel(1);
                scope.spawn(move || {
                    for index in (first..count).step_by(threads) {
                        if !budget.room_for(index) {
                            return;
                        }
                        // A panic in a decoder is that image's failure, not the process's
                        // (nothing is shared between images to leave half-changed).
                        let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            read(index)
                                .map_err(|reason| PdfError::Image { index, reason })
                                .and_then(|data| prepare_image(index, data, options))
                        }))
                        .unwrap_or_else(|_| Err(internal(index)));
                        let held = prepared.as_ref().map_or(0, PreparedImage::held_bytes);
                        budget.hold(held);
                        // The taker stopped: no more images are wanted.
                        if sender.send((prepared, held)).is_err() {
                            return;
                        }
                    }
                });
                receiver
            })
            .collect();
        for index in 0..count {
            let (prepared, held) = receivers[index % threads]
                .recv()
                .unwrap_or_else(|_| (Err(internal(index)), 0));
            let more = take(index, prepared);
            budget.written(index, held);
            if !more {
                break;
            }
        }
        // Dropping the receivers and closing the budget tell the threads still working to
        // stop.
        budget.close();
        drop(receivers);
    });
}

/// How many bytes of prepared images may wait to be written (copied JPEGs count their
/// file's size, decoded images their compressed data). Measured with 2 threads: 12 JPEGs of
/// 7 MiB into a PDF peaked at 31 MiB (46 MiB when read-ahead was two images a thread; 16
/// MiB here gave 40); 6 RGBA PNGs, decoded, took the same time as before.
pub const READ_AHEAD_BYTES: usize = 8 << 20;
