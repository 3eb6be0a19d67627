//! `folio convert`: the conversion engine on local files. One input to one output (`-` for
//! standard input or output), or several inputs into a directory (`-o DIR`), converted on
//! every core; a refused file is reported and the others go on. Outputs are written to a
//! temporary file and renamed into place, so a refused input leaves nothing behind.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use folio_engine::convert::{Color, Crop, Fit, Format, Plan, Resize};
use folio_engine::formats::Limits;

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// Input files; then the output file, unless -o names a directory. `-` reads standard
    /// input or writes standard output.
    #[arg(required = true, num_args = 1.., value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Write every input into this directory, as NAME.EXT (EXT from --format).
    #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Output format: jpg, png, webp, avif, gif, tiff, bmp, pdf. Default: the output's
    /// extension.
    #[arg(long)]
    pub format: Option<String>,
    #[arg(long, value_name = "W")]
    pub width: Option<u32>,
    #[arg(long, value_name = "H")]
    pub height: Option<u32>,
    /// How the image meets WxH: inside (default), cover, fill, contain.
    #[arg(long, default_value = "inside")]
    pub fit: String,
    /// Let a resize make the image larger than it is.
    #[arg(long)]
    pub enlarge: bool,
    /// Quality, 1 to 100 (JPEG and WebP: 75 by default; AVIF: 50).
    #[arg(long, value_name = "Q")]
    pub quality: Option<u8>,
    /// Clockwise degrees; right angles are exact.
    #[arg(
        long,
        value_name = "DEG",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub rotate: f64,
    /// Cut out X,Y,W,H (in the upright image) before resizing.
    #[arg(long, value_name = "X,Y,W,H")]
    pub crop: Option<String>,
    /// Mirror top to bottom.
    #[arg(long)]
    pub flip: bool,
    /// Mirror left to right.
    #[arg(long)]
    pub flop: bool,
    /// Colour under transparency (for targets without alpha), of contain's padding and of
    /// a turn's corners: #rrggbb, #rrggbbaa, r,g,b or a name.
    #[arg(long, default_value = "white")]
    pub background: String,
    /// Drop every metadata block and the ICC profile (colours turned into sRGB first).
    #[arg(long)]
    pub strip: bool,
    /// Copy the source's EXIF block (none is copied otherwise).
    #[arg(long)]
    pub keep_metadata: bool,
    /// Keep the stored orientation instead of turning the image upright.
    #[arg(long)]
    pub no_auto_orient: bool,
    /// Page (1-based) of a multi-page input.
    #[arg(long, default_value = "1")]
    pub page: u32,
    /// Resolution to record in the output.
    #[arg(long)]
    pub dpi: Option<f64>,
    /// Progressive JPEG.
    #[arg(long)]
    pub progressive: bool,
    /// Lossless WebP.
    #[arg(long)]
    pub lossless: bool,
    /// PNG as a palette of at most 256 colours.
    #[arg(long)]
    pub palette: bool,
    /// AVIF encoder speed, 1 (slow, smallest) to 10 (fastest); 8 by default.
    #[arg(long)]
    pub speed: Option<u8>,
    /// A whole plan as JSON (the options above are applied on top of it).
    #[arg(long, value_name = "JSON")]
    pub plan: Option<String>,
}

impl ConvertArgs {
    /// The plan the options describe, for output `format`.
    fn plan(&self, format: Format) -> Result<Plan, String> {
        let mut plan: Plan = match &self.plan {
            Some(json) => serde_json::from_str(json).map_err(|e| format!("--plan: {e}"))?,
            None => Plan::default(),
        };
        plan.target.format = format;
        if self.width.is_some() || self.height.is_some() {
            let fit = match self.fit.as_str() {
                "inside" => Fit::Inside,
                "cover" => Fit::Cover,
                "fill" => Fit::Fill,
                "contain" => Fit::Contain,
                other => return Err(format!("--fit {other}: use inside, cover, fill or contain")),
            };
            plan.resize = Some(Resize {
                width: self.width,
                height: self.height,
                fit,
                enlarge: self.enlarge,
                ..Resize::default()
            });
        }
        if let Some(crop) = &self.crop {
            let parts: Vec<u32> = crop
                .split(',')
                .map(|p| p.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("--crop {crop}: expected X,Y,W,H in pixels"))?;
            let [x, y, width, height] = parts[..] else {
                return Err(format!("--crop {crop}: expected X,Y,W,H in pixels"));
            };
            plan.crop = Some(Crop::Rect {
                x,
                y,
                width,
                height,
            });
        }
        plan.target.quality = self.quality.or(plan.target.quality);
        plan.target.progressive |= self.progressive;
        plan.target.lossless |= self.lossless;
        plan.target.palette |= self.palette;
        plan.target.speed = self.speed.unwrap_or(plan.target.speed);
        plan.rotate = if self.rotate != 0.0 {
            self.rotate
        } else {
            plan.rotate
        };
        plan.flip |= self.flip;
        plan.flop |= self.flop;
        plan.strip |= self.strip;
        plan.keep_metadata |= self.keep_metadata;
        plan.auto_orient &= !self.no_auto_orient;
        if self.page != 1 {
            plan.page = self.page;
        }
        plan.dpi = self.dpi.or(plan.dpi);
        if self.background != "white" {
            plan.background =
                Color::parse(&self.background).map_err(|e| format!("--background: {e}"))?;
        }
        plan.validate()?;
        Ok(plan)
    }
}

/// What a run did.
pub struct Summary {
    pub converted: usize,
    pub refused: Vec<(PathBuf, String)>,
}

pub fn run(args: &ConvertArgs) -> Result<Summary, String> {
    match &args.out_dir {
        None => {
            let [input, output] = &args.files[..] else {
                return Err("give one input and one output, or several inputs with -o DIR".into());
            };
            let format = match &args.format {
                Some(f) => Format::parse(f)?,
                None => Format::from_extension(&output.to_string_lossy()).ok_or_else(|| {
                    format!(
                        "{}: no format from the extension; give --format",
                        output.display()
                    )
                })?,
            };
            let plan = args.plan(format)?;
            let data = read_input(input)?;
            let converted = folio_engine::convert_owned(data, &plan, &Limits::default())
                .map_err(|e| e.to_string())?;
            write_output(output, &converted.bytes)?;
            Ok(Summary {
                converted: 1,
                refused: Vec::new(),
            })
        }
        Some(dir) => {
            let format = Format::parse(args.format.as_deref().unwrap_or("jpg"))?;
            let plan = args.plan(format)?;
            let outputs = outputs(&args.files, dir, format)?;
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(convert_all(&args.files, &outputs, &plan))
        }
    }
}

/// Where each input goes in `dir`: `NAME.EXT`. Two inputs of one name (from two folders)
/// would write one file, so that is refused before anything is converted.
fn outputs(files: &[PathBuf], dir: &Path, format: Format) -> Result<Vec<PathBuf>, String> {
    let mut seen = std::collections::HashMap::new();
    let mut outputs = Vec::with_capacity(files.len());
    for input in files {
        let name = input.file_stem().unwrap_or_default();
        let output = dir.join(name).with_extension(format.extension());
        if let Some(other) = seen.insert(output.clone(), input) {
            return Err(format!(
                "{} and {} would both be written to {}",
                other.display(),
                input.display(),
                output.display()
            ));
        }
        outputs.push(output);
    }
    Ok(outputs)
}

/// Converts every file into `dir` on every core; a progress bar on a terminal.
fn convert_all(files: &[PathBuf], outputs: &[PathBuf], plan: &Plan) -> Summary {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let converted = AtomicUsize::new(0);
    let refused = Mutex::new(Vec::new());
    let bar = match std::io::stderr().is_terminal() {
        true => indicatif::ProgressBar::new(files.len() as u64),
        false => indicatif::ProgressBar::hidden(),
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(input), Some(output)) = (files.get(i), outputs.get(i)) else {
                        break;
                    };
                    let result = read_input(input).and_then(|data| {
                        let done = folio_engine::convert_owned(data, plan, &Limits::default())
                            .map_err(|e| e.to_string())?;
                        write_output(output, &done.bytes)
                    });
                    match result {
                        Ok(()) => {
                            converted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(reason) => {
                            bar.suspend(|| eprintln!("{}: {reason}", input.display()));
                            // A poisoned lock means another worker panicked mid-push; the
                            // list it holds is still whole.
                            refused
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push((input.clone(), reason));
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    Summary {
        converted: converted.into_inner(),
        refused: refused.into_inner().unwrap_or_else(|p| p.into_inner()),
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| format!("standard input: {e}"))?;
        return Ok(data);
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(|e| format!("standard output: {e}"));
    }
    let tmp = path.with_extension("folio-partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", path.display())
        })
}
