//! `folio pdf`: the images-to-PDF engine on local files. The PDF is written to a temporary
//! file beside the output and renamed into place, so a refused image leaves nothing behind.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use clap::Args;
use folio_engine::pdf::{PageOptions, PdfBuilder, PdfError, PdfOptions, prepare_pipelined, units};

#[derive(Args, Debug)]
pub struct PdfArgs {
    /// Where to write the PDF.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Rotate image N (1-based) clockwise by DEG (0, 90, 180, 270), as N:DEG; repeatable.
    #[arg(long = "rotate", value_name = "N:DEG")]
    pub rotate: Vec<String>,
    /// Page size: A0..A6, Letter, Legal, Tabloid, or WxH (210mmx297mm). Default: the image's size.
    #[arg(long)]
    pub page_size: Option<String>,
    /// How an image meets a page size: into, fill, exact, shrink, enlarge.
    #[arg(long, default_value = "into")]
    pub fit: String,
    /// Margin on every side (10mm, 0.5in, 12pt).
    #[arg(long, default_value = "0")]
    pub margin: String,
    /// Turn pages to landscape for landscape images.
    #[arg(long)]
    pub auto_orient: bool,
    /// Store images Folio has to decode (PNG with alpha, WebP, TIFF, ...) as JPEGs of this
    /// quality (1-100) instead of losslessly; copied JPEG/PNG/JPEG 2000 data is unchanged.
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: Option<u8>,
    /// The images, in page order.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

pub struct Written {
    pub pages: usize,
    pub bytes: u64,
}

fn rotations(args: &PdfArgs) -> Result<Vec<u16>, String> {
    let mut rotate = vec![0u16; args.images.len()];
    for spec in &args.rotate {
        let parsed = spec.split_once(':').and_then(|(n, d)| {
            Some((
                n.trim().parse::<usize>().ok()?,
                d.trim().parse::<u16>().ok()?,
            ))
        });
        let (n, degrees) =
            parsed.ok_or_else(|| format!("--rotate {spec}: expected N:DEG, like 2:90"))?;
        if n == 0 || n > rotate.len() {
            return Err(format!(
                "--rotate {spec}: there is no image {n} (1 to {})",
                rotate.len()
            ));
        }
        if !matches!(degrees, 0 | 90 | 180 | 270) {
            return Err(format!(
                "--rotate {spec}: degrees must be 0, 90, 180 or 270"
            ));
        }
        rotate[n - 1] = degrees;
    }
    Ok(rotate)
}

pub fn run(args: &PdfArgs) -> Result<Written, String> {
    let rotate = rotations(args)?;
    let page = PageOptions {
        size: args
            .page_size
            .as_deref()
            .map(units::parse_page_size)
            .transpose()
            .map_err(|e| format!("--page-size: {e}"))?,
        fit: units::parse_fit(&args.fit).map_err(|e| format!("--fit: {e}"))?,
        margin: units::parse_length(&args.margin).map_err(|e| format!("--margin: {e}"))?,
        auto_orient: args.auto_orient,
    };
    let partial = args.output.with_extension("pdf.partial");
    let result = write(args, &rotate, page, &partial);
    match result {
        Ok(written) => {
            std::fs::rename(&partial, &args.output)
                .map_err(|e| format!("{}: {e}", args.output.display()))?;
            Ok(written)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write(
    args: &PdfArgs,
    rotate: &[u16],
    page: PageOptions,
    partial: &PathBuf,
) -> Result<Written, String> {
    let file = File::create(partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let options = PdfOptions {
        page,
        jpeg_quality: args.jpeg_quality,
        ..Default::default()
    };
    let mut pdf = PdfBuilder::new(BufWriter::new(file), options).map_err(|e| e.to_string())?;
    let message = |e: PdfError| match e {
        PdfError::Image { index, reason } => {
            format!(
                "{} (image {}): {reason}",
                args.images[index].display(),
                index + 1
            )
        }
        other => other.to_string(),
    };
    // Images are read and prepared on every core and written in order as they are ready;
    // at most two images per core are held at a time.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let read = |index: usize| std::fs::read(&args.images[index]).map_err(|e| e.to_string());
    let options = pdf.options().clone();
    let mut failure = None;
    prepare_pipelined(
        args.images.len(),
        cores,
        &options,
        &read,
        &mut |index, prepared| match prepared
            .and_then(|image| pdf.add_prepared(image, rotate[index]))
        {
            Ok(()) => true,
            Err(e) => {
                failure = Some(message(e));
                false
            }
        },
    );
    if let Some(failure) = failure {
        return Err(failure);
    }
    let summary = pdf.finish().map_err(|e| e.to_string())?;
    // Flushed, not synced to disk: the rename makes the PDF appear whole to other processes.
    summary
        .sink
        .into_inner()
        .map_err(|e| e.error().to_string())?;
    Ok(Written {
        pages: summary.pages,
        bytes: summary.bytes,
    })
}
