//! Pillow, through `compare.py`, as the decoder of what the converter writes: one Python
//! process answers a whole batch of requests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The crate's folder where the test runs: cargo says so at run time. The path compiled in
/// would be that of whichever clone built the binary (clones share `CARGO_TARGET_DIR`).
fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn python() -> PathBuf {
    let venv = crate_dir().join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: `make test` creates it with Pillow (scripts/requirements.txt)",
        venv.display()
    );
    venv
}

/// A comparison of two images over white: size, largest and mean difference of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    pub width: u32,
    pub height: u32,
    pub max: u32,
    pub mean: f64,
}

/// What Pillow says of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub width: u32,
    pub height: u32,
    pub mode: String,
    pub format: String,
    /// SHA-256 of the embedded ICC profile, if any.
    pub icc: Option<String>,
    pub frames: u32,
}

pub enum Request<'a> {
    /// The first image against the second.
    Compare(&'a Path, &'a Path),
    /// The first turned upright by Pillow (EXIF orientation) against the second.
    Upright(&'a Path, &'a Path),
    Info(&'a Path),
    /// Frame by frame: frame counts, the largest difference and the largest mean.
    Frames(&'a Path, &'a Path),
    /// The first against the second, and Pillow's own encoding of the second in a lossy
    /// format (`jpg`, `webp`, `gif`) against the second.
    Baseline(&'a Path, &'a Path, &'a str),
}

/// Pillow's answers, one a request, in order: the words after "ok", or the error.
pub fn ask(requests: &[Request<'_>]) -> Vec<Result<Vec<String>, String>> {
    let script = crate_dir().join("tests/support/compare.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut input = String::new();
    for r in requests {
        let line = match r {
            Request::Compare(a, b) => format!("compare\t{}\t{}", a.display(), b.display()),
            Request::Upright(a, b) => format!("upright\t{}\t{}", a.display(), b.display()),
            Request::Info(a) => format!("info\t{}", a.display()),
            Request::Frames(a, b) => format!("frames\t{}\t{}", a.display(), b.display()),
            Request::Baseline(a, b, f) => {
                format!("baseline\t{}\t{}\t{f}", a.display(), b.display())
            }
        };
        input.push_str(&line);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    // Written from a thread: the answers may fill the pipe before the questions are sent.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python answers");
    writer.join().expect("writer").expect("requests written");
    assert!(out.status.success(), "compare.py failed");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let answers: Vec<_> = text
        .lines()
        .map(|l| match l.strip_prefix("ok ") {
            Some(rest) => Ok(rest.split(' ').map(str::to_string).collect()),
            None => Err(l.to_string()),
        })
        .collect();
    assert_eq!(answers.len(), requests.len(), "one answer a request");
    answers
}

pub fn diff(words: &[String]) -> Diff {
    Diff {
        width: words[0].parse().unwrap(),
        height: words[1].parse().unwrap(),
        max: words[2].parse().unwrap(),
        mean: words[3].parse().unwrap(),
    }
}

pub fn info(words: &[String]) -> Info {
    Info {
        width: words[0].parse().unwrap(),
        height: words[1].parse().unwrap(),
        mode: words[2].clone(),
        format: words[3].clone(),
        icc: (words[4] != "-").then(|| words[4].clone()),
        frames: words[5].parse().unwrap(),
    }
}

/// Compares two files; panics when Pillow cannot read either.
pub fn compare(a: &Path, b: &Path) -> Diff {
    match &ask(&[Request::Compare(a, b)])[0] {
        Ok(words) => diff(words),
        Err(e) => panic!("{} vs {}: {e}", a.display(), b.display()),
    }
}

pub fn file_info(a: &Path) -> Info {
    match &ask(&[Request::Info(a)])[0] {
        Ok(words) => info(words),
        Err(e) => panic!("{}: {e}", a.display()),
    }
}
