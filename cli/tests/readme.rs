//! The README's code blocks run as written, in order, against a fresh `folio serve` in a
//! temporary folder, as a new user would run them after `make dev`.
//!
//! A block runs when its info string says `readme`:
//!
//! - ```` ```sh readme ```` runs in a new `bash` (`set -euo pipefail`);
//! - ```` ```sh readme continue ```` runs with the variables and functions the previous
//!   `readme` block left;
//! - ```` ```python readme ```` runs with the Python of `.venv` (the vendors' SDKs);
//! - ```` ```sh readme skip=aws ```` is not run, and is listed as skipped with its reason;
//! - ```` ```text readme output ```` right after a block is what that block prints: each of
//!   its lines must appear in the output, in order (`...` stands for any line).
//!
//! Blocks without `readme` are illustrations (tables of routes, the layout). The sandbox is a
//! folder with `shared/` (the corpus) beside `folio/`, the working folder, which holds
//! `scripts/`; `folio` and the `.venv` tools are on the `PATH`, as after `make install` and
//! `make test`; the README's address `127.0.0.1:3000` is replaced by the test server's.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a block may run.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, PartialEq)]
enum Mode {
    Fresh,
    Continue,
    Skip(String),
}

#[derive(Debug)]
struct Block {
    language: String,
    mode: Mode,
    /// The README line the block starts on.
    line: usize,
    text: String,
    expected: Option<String>,
}

/// The README's `readme` blocks, each with the output block that follows it.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for (_, inner) in lines.by_ref() {
            if inner.starts_with("```") {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        let words: Vec<&str> = info.split_whitespace().collect();
        if words.get(1) != Some(&"readme") {
            continue;
        }
        let language = words[0].to_string();
        if words.get(2) == Some(&"output") {
            if let Some(last) = blocks.last_mut() {
                last.expected = Some(body);
            }
            continue;
        }
        let mode = match words.get(2) {
            Some(&"continue") => Mode::Continue,
            Some(skip) if skip.starts_with("skip=") => Mode::Skip(skip[5..].to_string()),
            _ => Mode::Fresh,
        };
        blocks.push(Block {
            language,
            mode,
            line: n + 1,
            text: body,
            expected: None,
        });
    }
    blocks
}

/// Whether each line of `expected` appears in `output`, in order (`...` matches any line).
fn shows(output: &str, expected: &str) -> Result<(), String> {
    let mut rest = output.lines();
    for want in expected.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if want == "..." {
            continue;
        }
        if !rest.by_ref().any(|got| got.contains(want)) {
            return Err(format!("the output has no line with {want:?} (in order)"));
        }
    }
    Ok(())
}

/// Whether `GET /openapi.json` on the port answers 200.
fn answers_ok(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /openapi.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

struct Sandbox {
    root: PathBuf,
    work: PathBuf,
    path: String,
    port: u16,
}

impl Sandbox {
    fn new(repo: &Path, shared: &Path) -> Sandbox {
        let root = std::env::temp_dir().join(format!("folio-readme-{}", uuid::Uuid::new_v4()));
        let work = root.join("folio");
        std::fs::create_dir_all(&work).expect("a sandbox");
        std::os::unix::fs::symlink(shared, root.join("shared")).expect("shared/ linked");
        std::os::unix::fs::symlink(repo.join("scripts"), work.join("scripts"))
            .expect("scripts/ linked");
        let folio = PathBuf::from(env!("CARGO_BIN_EXE_folio"));
        let path = format!(
            "{}:{}:{}",
            folio.parent().expect("a folder").display(),
            repo.join(".venv/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Sandbox {
            root,
            work,
            path,
            port,
        }
    }

    /// `folio serve` as `make dev` runs it, in the working folder, on the sandbox's port.
    fn serve(&self) -> Child {
        let log = std::fs::File::create(self.root.join("serve.log")).expect("a log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(["serve", "--addr", &format!("127.0.0.1:{}", self.port)])
            .current_dir(&self.work)
            .env("FOLIO_BACKEND", "embedded")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("FOLIO_DATA")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("folio serve starts");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let ready = answers_ok(self.port);
            if ready {
                return child;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("folio serve was not ready within 60 s");
    }

    /// Runs one block; its output, or why it failed.
    fn run(&self, block: &Block) -> Result<String, String> {
        let text = block
            .text
            .replace("127.0.0.1:3000", &format!("127.0.0.1:{}", self.port));
        let state = self.root.join("state.sh");
        let mut command = match block.language.as_str() {
            "sh" | "bash" => {
                let mut script = String::new();
                if block.mode == Mode::Continue {
                    // Before `set -e`: bash's own read-only variables are in the state too.
                    script.push_str(&format!("source {} 2>/dev/null\n", state.display()));
                }
                script.push_str("set -euo pipefail\n");
                script.push_str(&text);
                script.push_str(&format!(
                    "\n{{ declare -p; declare -f; }} > {} 2>/dev/null\n",
                    state.display()
                ));
                let mut command = Command::new("bash");
                command.arg("-c").arg(script);
                command
            }
            "python" => {
                let mut command = Command::new("python3");
                command.arg("-c").arg(&text);
                command
            }
            other => return Err(format!("no way to run a {other} block")),
        };
        use std::os::unix::process::CommandExt;
        let mut child = command
            .current_dir(&self.work)
            .env("PATH", &self.path)
            .env_remove("AWS_ENDPOINT_URL")
            // A process group of its own: whatever it leaves running is stopped with it.
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", block.language))?;
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            if started.elapsed() > BLOCK_TIMEOUT {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Stop what the block left behind (it should have stopped it itself).
        let group = child.id() as i32;
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{group}")])
            .stderr(Stdio::null())
            .status();
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        match status {
            None => Err(format!(
                "still running after {BLOCK_TIMEOUT:?}\n{stdout}\n{stderr}"
            )),
            Some(status) if !status.success() => Err(format!("{status}\n{stdout}\n{stderr}")),
            Some(_) => match &block.expected {
                Some(expected) => shows(&stdout, expected)
                    .map(|()| stdout.clone())
                    .map_err(|e| format!("{e}\n--- printed:\n{stdout}\n{stderr}")),
                None => Ok(stdout),
            },
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `markdown`'s blocks in a new sandbox; what failed (with each block's README line).
fn run_all(markdown: &str) -> (Vec<String>, Vec<String>) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("FOLIO_CORPUS")
        .map(PathBuf::from)
        .and_then(|corpus| corpus.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| repo.join("../shared"));
    assert!(
        shared.join("corpus").is_dir(),
        "{}: the shared corpus is missing",
        shared.display()
    );
    let sandbox = Sandbox::new(&repo, &shared);
    let mut server = sandbox.serve();
    let (mut failures, mut skipped) = (Vec::new(), Vec::new());
    let mut stderr = std::io::stderr();
    for block in blocks(markdown) {
        if let Mode::Skip(reason) = &block.mode {
            let _ = writeln!(stderr, "README.md:{} skipped ({reason})", block.line);
            skipped.push(format!("README.md:{} ({reason})", block.line));
            continue;
        }
        let started = Instant::now();
        let outcome = sandbox.run(&block);
        let took = started.elapsed();
        match outcome {
            Ok(_) => {
                let _ = writeln!(stderr, "README.md:{} ran in {took:.1?}", block.line);
            }
            Err(why) => {
                let _ = writeln!(stderr, "README.md:{} FAILED after {took:.1?}", block.line);
                failures.push(format!("README.md:{}: {why}", block.line));
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    if !failures.is_empty() {
        let log = std::fs::read_to_string(sandbox.root.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        failures.push(format!(
            "the last lines folio serve logged:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    (failures, skipped)
}

#[test]
fn every_readme_block_runs_as_written() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("the README");
    let count = blocks(&readme)
        .iter()
        .filter(|b| !matches!(b.mode, Mode::Skip(_)))
        .count();
    assert!(count >= 10, "only {count} README blocks are marked to run");
    let (failures, skipped) = run_all(&readme);
    eprintln!("{count} README blocks run; skipped: {}", skipped.join(", "));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_failing_block_or_a_missing_line_of_output_fails() {
    let markdown = "\
```sh readme
echo one; echo two
```
```text readme output
one
two
```
```sh readme continue
X=3
```
```sh readme continue
test \"$X\" = 3 && echo three
```
```text readme output
four
```
```sh readme
echo \"$X\"
```
```sh readme skip=aws
exit 1
```
";
    let parsed = blocks(markdown);
    assert_eq!(parsed.len(), 5);
    assert_eq!(parsed[4].mode, Mode::Skip("aws".into()));
    let (failures, skipped) = run_all(markdown);
    assert_eq!(skipped, ["README.md:20 (aws)"]);
    // The block printing "three" where the README shows "four" fails, and so does the fresh
    // block using a variable of another (`set -u`); the rest pass. (The last entry is the
    // server's log.)
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures[0].starts_with("README.md:11:"), "{}", failures[0]);
    assert!(failures[0].contains("\"four\""), "{}", failures[0]);
    assert!(failures[1].starts_with("README.md:17:"), "{}", failures[1]);
    assert!(failures[1].contains("unbound variable"), "{}", failures[1]);
}
