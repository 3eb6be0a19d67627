//! The converter over the third-party corpus (`FOLIO_CORPUS`): every file the PDF engine
//! converts also converts to every target, no file panics, and each output, decoded by
//! Pillow (a decoder Folio does not use), matches the reference decode of its source:
//! exactly for lossless targets, within a stated tolerance for lossy ones. The test prints
//! the counts and the worst differences.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use folio_engine::convert::{Format, Plan, Target};
use folio_engine::formats::Limits;
use folio_engine::pdf::{PdfOptions, prepare_image};
use support::corpus::*;
use support::pillow::{self, Request};

/// The targets every file goes to, with the name of its output.
fn targets() -> Vec<(&'static str, Target)> {
    let t = |format, f: fn(&mut Target)| {
        let mut target = Target {
            format,
            ..Target::default()
        };
        f(&mut target);
        target
    };
    vec![
        ("png", t(Format::Png, |_| {})),
        ("srgb.png", t(Format::Png, |_| {})),
        ("jpg", t(Format::Jpg, |_| {})),
        ("webp", t(Format::Webp, |_| {})),
        ("lossless.webp", t(Format::Webp, |t| t.lossless = true)),
        ("avif", t(Format::Avif, |_| {})),
        ("gif", t(Format::Gif, |_| {})),
        ("tiff", t(Format::Tiff, |_| {})),
        (
            "jpeg.tiff",
            t(Format::Tiff, |t| {
                t.tiff_compression = folio_engine::convert::plan::TiffCompression::Jpeg
            }),
        ),
        ("bmp", t(Format::Bmp, |_| {})),
        ("pdf", t(Format::Pdf, |_| {})),
    ]
}

/// Lossy outputs are held to what Pillow's own encoder loses on the same pixels (JPEG and
/// WebP at quality 75, AVIF at 50, GIF quantised to 256 colours with Floyd-Steinberg dithering, after
/// the same choice of transparent pixels): their mean difference from the lossless output
/// may be at most `factor` times Pillow's, plus `plus`. GIF is looser: Folio's palettes
/// come from Wu's quantiser in Oklab, Pillow's from median cut in RGB, and their
/// dithering spreads error differently (on small synthetic gradients, such as PngSuite's
/// 32x32 ones, Folio's GIFs are measurably further from the source than Pillow's).
fn lossy_limit(format: &str, pillow_mean: f64) -> f64 {
    match format {
        "gif" => pillow_mean * 2.5 + 1.5,
        _ => pillow_mean * 1.5 + 1.0,
    }
}

/// AVIF of graphics of at most 256 colours (bilevel scans, palettes, posterised grays,
/// drawn test charts): libaom, behind Pillow's AVIF, codes them with AV1's palette and
/// screen-content tools, near losslessly; rav1e, Folio's encoder, has no palette coding
/// and rings at their hard edges. At the default quality 50 their mean difference stays
/// under this. (On photographs the two are even: see BENCHMARKS.md.)
const FEW_COLOURS_AVIF_LIMIT: f64 = 5.0;

fn few_colours(png: &std::path::Path) -> bool {
    let image = image::open(png).unwrap().to_rgba8();
    let mut seen = std::collections::HashSet::new();
    image.pixels().all(|p| {
        seen.insert(p.0);
        seen.len() <= 256
    })
}

/// The lossy format a target's output is, if it is one.
fn lossy(target: &str) -> Option<&'static str> {
    match target {
        "jpg" => Some("jpg"),
        "webp" => Some("webp"),
        "avif" => Some("avif"),
        "jpeg.tiff" => Some("jpg"),
        "gif" => Some("gif"),
        _ => None,
    }
}

/// The lossless output a target's output is compared with: the PNG, or the PNG turned into
/// sRGB for targets that do not carry the ICC profile.
fn base(target: &str) -> &'static str {
    match target {
        "jpg" | "webp" | "lossless.webp" | "tiff" | "jpeg.tiff" => "png",
        _ => "srgb.png",
    }
}

struct Output {
    name: String,
    path: PathBuf,
    target: &'static str,
}

#[test]
fn every_file_the_pdf_engine_converts_converts_to_every_target() {
    let all = all_files();
    let work = std::env::temp_dir().join(format!(
        "folio-convert-conformance/{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work).unwrap();

    let mut failures = Vec::new();
    let mut outputs: Vec<Output> = Vec::new();
    let mut references: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    let mut accepted = 0;
    for (i, (name, path)) in all.iter().enumerate() {
        let data = std::fs::read(path).unwrap();
        let pdf_accepts = prepare_image(0, data.clone(), &PdfOptions::default()).is_ok();
        for (label, target) in targets() {
            let plan = Plan {
                target,
                strip: label == "srgb.png",
                ..Plan::default()
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                folio_engine::convert(&data, &plan, &Limits::default())
            }));
            match (outcome, pdf_accepts) {
                (Err(_), _) => failures.push(format!("{name} -> {label}: panicked")),
                (Ok(Err(e)), true) => failures.push(format!("{name} -> {label}: refused: {e}")),
                (Ok(Err(_)), false) => {}
                (Ok(Ok(done)), _) => {
                    let out = work.join(format!("{i}.{label}"));
                    std::fs::write(&out, &done.bytes).unwrap();
                    outputs.push(Output {
                        name: name.clone(),
                        path: out,
                        target: label,
                    });
                }
            }
        }
        if !pdf_accepts {
            continue;
        }
        accepted += 1;
        if let Some(expected) = reference(name, path) {
            let at = work.join(format!("{i}.ref.png"));
            expected.save(&at).unwrap();
            references.push((name.clone(), work.join(format!("{i}.png")), at));
        }
    }

    // PDFs: checked by qpdf (their pages are the PDF engine's, tested on their own).
    for o in outputs.iter().filter(|o| o.target == "pdf") {
        let checked = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&o.path)
            .output()
            .expect("qpdf runs: `make test` installs it");
        if !checked.status.success() {
            failures.push(format!("{} -> pdf: qpdf --check failed", o.name));
        }
    }

    // The PNG against the reference decode; every other raster output against the PNG.
    let references: Vec<_> = references
        .into_iter()
        .filter(|(name, _, _)| match KNOWN.iter().find(|(n, _)| n == name) {
            Some((_, why)) => {
                println!("not compared ({why}): {name}");
                false
            }
            None => true,
        })
        .collect();
    let mut requests = Vec::new();
    for (_, png, reference) in &references {
        requests.push(Request::Compare(png, reference));
    }
    let others: Vec<&Output> = outputs
        .iter()
        .filter(|o| !matches!(o.target, "png" | "srgb.png" | "pdf"))
        .collect();
    let bases: Vec<PathBuf> = others
        .iter()
        .map(|o| {
            let stem = o.path.file_name().unwrap().to_string_lossy();
            let stem = stem.split('.').next().unwrap().to_string();
            o.path.with_file_name(format!("{stem}.{}", base(o.target)))
        })
        .collect();
    for (o, base) in others.iter().zip(&bases) {
        match lossy(o.target) {
            Some(format) => requests.push(Request::Baseline(&o.path, base, format)),
            None => requests.push(Request::Compare(&o.path, base)),
        }
    }
    let answers = pillow::ask(&requests);
    let (reference_answers, other_answers) = answers.split_at(references.len());

    let mut worst: Vec<(String, f64)> = Vec::new();
    for ((name, png, _), answer) in references.iter().zip(reference_answers) {
        let d = match answer {
            Ok(words) => pillow::diff(words),
            Err(e) => {
                failures.push(format!("{name} -> png: Pillow: {e}"));
                continue;
            }
        };
        if let Some(why) = png_tolerance(name, &d) {
            failures.push(format!(
                "{name} -> png differs from the reference ({why}): max {}, mean {:.2} ({})",
                d.max,
                d.mean,
                png.display()
            ));
        }
    }
    for ((o, answer), base) in others.iter().zip(other_answers).zip(&bases) {
        let d = match answer {
            Ok(words) => pillow::diff(words),
            Err(e) => {
                failures.push(format!("{} -> {}: Pillow: {e}", o.name, o.target));
                continue;
            }
        };
        let words = answer.as_ref().expect("read above");
        match lossy(o.target) {
            Some(format) => {
                let pillow_mean: f64 = words[4].parse().unwrap();
                let mut limit = lossy_limit(format, pillow_mean);
                if format == "avif" && few_colours(base) {
                    limit = limit.max(FEW_COLOURS_AVIF_LIMIT);
                }
                worst.push((
                    format!("{} -> {} (Pillow's: {pillow_mean:.2})", o.name, o.target),
                    d.mean,
                ));
                if d.mean > limit {
                    failures.push(format!(
                        "{} -> {}: mean difference {:.2} from the lossless output; Pillow's encoder: {pillow_mean:.2} ({})",
                        o.name,
                        o.target,
                        d.mean,
                        o.path.display()
                    ));
                }
            }
            // Lossless: samples of 16 bits are brought to 8 by rounding here and by
            // cutting in Pillow, and BMP's flattening rounds once more: two units at most.
            None if d.max > 2 => failures.push(format!(
                "{} -> {}: differs from the PNG: max {}, mean {:.2} ({})",
                o.name,
                o.target,
                d.max,
                d.mean,
                o.path.display()
            )),
            None => {}
        }
    }
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (what, mean) in worst.iter().take(5) {
        println!("largest lossy difference: {what}: mean {mean:.2}");
    }
    println!(
        "convert corpus: {} files; {accepted} accepted by the PDF engine, {} outputs written, {} compared with a reference decode, {} failures",
        all.len(),
        outputs.len(),
        references.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&work).ok();
}

/// Why the PNG output of `name` is too far from its reference, if it is. The tolerances
/// are the PDF conformance test's, for the same reasons (another JPEG decoder, colour
/// converted through a profile, vectors drawn with other smoothing).
fn png_tolerance(name: &str, d: &pillow::Diff) -> Option<&'static str> {
    let (ok, why) = if name.ends_with(".svg") || name.ends_with(".svgz") {
        (d.mean < 8.0, "vector")
    } else if JPEG_IN_TIFF.contains(&name) || name.ends_with(".jpg") || name.ends_with(".jpeg") {
        (d.mean < 3.0, "JPEG decoded by another decoder")
    } else if name == "bmpsuite/q/rgb24jpeg.bmp" {
        (
            d.mean < 6.0,
            "a JPEG compared with the lossless picture it was made from",
        )
    } else if COLOUR_MANAGED.contains(&name) {
        (d.mean < 24.0, "colour converted through its profile")
    } else {
        (d.max <= 3, "lossless")
    };
    (!ok).then_some(why)
}

/// Files whose output is known to differ from the reference decode, and why.
const KNOWN: &[(&str, &str)] = &[(
    "pillow/00r0_gray_l.jp2",
    "one component sampled 1 in 13 across: Folio gives its component grid, 6x13, as the \
     PDF engine places it; OpenJPEG stretches it to the reference grid, 76x13",
)];

/// CMYK and CIELab files: the converter turns them into sRGB (through their ICC profile
/// when they have one), the reference decoder by the plain formula.
const COLOUR_MANAGED: &[&str] = &["pillow/lab.tif"];
