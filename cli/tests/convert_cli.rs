//! `folio convert` as a user runs it: files, standard input and output, a directory of
//! outputs, exit codes and messages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn folio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_folio"))
}

fn dir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("folio-cli-tests/{}", std::process::id()))
        .join(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn png(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
    img.save(path).unwrap();
}

#[test]
fn one_file_to_another_by_extension() {
    let d = dir();
    png(&d.join("in.png"), 80, 60);
    let out = folio()
        .args(["convert", "in.png", "out.webp", "--width", "40"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = image::open(d.join("out.webp")).unwrap();
    assert_eq!((written.width(), written.height()), (40, 30));
}

#[test]
fn png_to_avif_and_back() {
    let d = dir();
    png(&d.join("in.png"), 80, 60);
    for args in [
        [
            "convert",
            "in.png",
            "out.avif",
            "--speed",
            "10",
            "--quality",
            "60",
        ],
        [
            "convert", "out.avif", "back.png", "--width", "40", "--fit", "inside",
        ],
    ] {
        let out = folio().args(args).current_dir(&d).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(std::fs::read(d.join("out.avif")).unwrap()[4..12] == *b"ftypavif");
    let back = image::open(d.join("back.png")).unwrap();
    assert_eq!((back.width(), back.height()), (40, 30));
    let out = folio()
        .args(["convert", "in.png", "x.avif", "--speed", "11"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("speed"));
}

#[test]
fn a_refused_input_exits_1_with_one_line_and_leaves_nothing() {
    let d = dir();
    std::fs::write(d.join("bad.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = folio()
        .args(["convert", "bad.png", "out.jpg"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("folio convert: "), "{stderr}");
    assert!(!d.join("out.jpg").exists());
    // Bad options are refused the same way, naming the option.
    let out = folio()
        .args(["convert", "bad.png", "out.jpg", "--quality", "0"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quality"));
}

#[test]
fn standard_input_to_standard_output() {
    let d = dir();
    png(&d.join("in.png"), 20, 10);
    let mut child = folio()
        .args(["convert", "-", "-", "--format", "jpg"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(d.join("in.png")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let img = image::load_from_memory(&out.stdout).unwrap();
    assert_eq!((img.width(), img.height()), (20, 10));
}

#[test]
fn a_directory_run_converts_the_good_files_and_lists_the_bad_one() {
    let d = dir();
    let inputs: Vec<String> = (0..5).map(|i| format!("in{i}.png")).collect();
    for name in &inputs {
        png(&d.join(name), 64, 32);
    }
    std::fs::write(d.join("broken.png"), b"nope").unwrap();
    let out = folio()
        .args([
            "convert", "-o", "thumbs", "--format", "webp", "--width", "16",
        ])
        .args(&inputs)
        .arg("broken.png")
        .current_dir(&d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.png: "), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("5 converted, 1 refused"),
        "{stderr}"
    );
    // Not a terminal: no progress bar drawn.
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
    for i in 0..5 {
        let img = image::open(d.join(format!("thumbs/in{i}.webp"))).unwrap();
        assert_eq!((img.width(), img.height()), (16, 8));
    }
    assert!(!d.join("thumbs/broken.webp").exists());
}

#[test]
fn two_inputs_of_one_name_are_refused_before_anything_is_written() {
    let d = dir();
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::create_dir_all(d.join("b")).unwrap();
    png(&d.join("a/x.png"), 8, 8);
    png(&d.join("b/x.png"), 8, 8);
    let out = folio()
        .args([
            "convert", "-o", "out", "--format", "png", "a/x.png", "b/x.png",
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("would both be written"), "{stderr}");
    assert!(!d.join("out").exists());
}
