//! Conformance over the third-party corpus (`FOLIO_CORPUS`): every file either converts to
//! a PDF that qpdf accepts and whose render matches a reference decode, or is refused with
//! a clean error. No file may panic. The test prints the counts.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use folio_engine::pdf::{PdfBuilder, PdfError, PdfOptions};
use image::RgbImage;
use support::corpus::*;
use support::*;

#[test]
fn every_corpus_file_converts_or_is_refused_cleanly() {
    let all = all_files();

    let (mut converted, mut refused_corrupt, mut refused_not_yet, mut lenient) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (name, path) in &all {
        let name = name.clone();
        let data = std::fs::read(path).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
            pdf.add_image(0, data.clone(), 0)?;
            pdf.finish()
        }));
        match outcome {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Err(PdfError::Image { reason, .. })) => {
                if CORRUPT.contains(&name.as_str()) {
                    refused_corrupt += 1;
                } else if let Some(why) = not_yet(&name) {
                    refused_not_yet += 1;
                    println!("not yet supported ({why}): {name}: {reason}");
                } else {
                    failures.push(format!("{name}: refused a valid file: {reason}"));
                }
            }
            Ok(Err(other)) => failures.push(format!("{name}: {other}")),
            Ok(Ok(summary)) => {
                if CORRUPT.contains(&name.as_str()) {
                    lenient += 1;
                }
                let pdf = Pdf::from_bytes(summary.sink);
                let checked = std::process::Command::new("qpdf")
                    .arg("--check")
                    .arg(&pdf.path)
                    .output()
                    .unwrap();
                if checked.status.code() != Some(0) {
                    failures.push(format!(
                        "{name}: qpdf --check: {}",
                        String::from_utf8_lossy(&checked.stdout)
                            .lines()
                            .last()
                            .unwrap_or_default()
                    ));
                    continue;
                }
                let unreferenced = NO_REFERENCE.iter().find(|(n, _)| *n == name);
                match reference(&name, path) {
                    None if CORRUPT.contains(&name.as_str()) => {}
                    None if unreferenced.is_some() => {
                        pdf.render(1, 72.0);
                        println!(
                            "converted, not compared ({}): {name}",
                            unreferenced.map_or("", |u| u.1)
                        );
                    }
                    None => failures.push(format!(
                        "{name}: converted, but no reference decoder reads it"
                    )),
                    Some(expected) => {
                        let tolerance = Tolerance::of(&name, &pdf);
                        let (w, h) = expected.dimensions();
                        let rendered = pdf.render_to(1, w, h);
                        let (max, mean) = (
                            max_diff(&rendered, &expected),
                            mean_diff(&rendered, &expected),
                        );
                        // Vector tolerance is loose on edges; it must still be far
                        // closer than an empty page (a drawing left out would not be).
                        let blank = RgbImage::from_pixel(w, h, image::Rgb([255; 3]));
                        let empty = mean_diff(&blank, &expected);
                        let drawn = matches!(tolerance, Tolerance::Vector)
                            .then(|| empty == 0.0 || mean < empty / 4.0)
                            .unwrap_or(true);
                        if !tolerance.accepts(max, mean) || !drawn {
                            // Kept beside the PDF for a look.
                            rendered.save(pdf.dir.join("rendered.png")).unwrap();
                            expected.save(pdf.dir.join("expected.png")).unwrap();
                            failures.push(format!("{name}: render differs from the reference: max {max}, mean {mean:.2} (an empty page: {empty:.2}); renders in {}", pdf.dir.display()));
                        }
                    }
                }
                converted += 1;
            }
        }
    }
    println!(
        "corpus: {} files; {converted} converted ({lenient} of them marked corrupt but decodable), \
         {refused_corrupt} corrupt files refused, {refused_not_yet} refused as not yet supported, {} failures",
        all.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
