use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use folio_cli::buckets::{self, BucketsArgs};
use folio_cli::convert::{self, ConvertArgs};
use folio_cli::keys::{self, KeysArgs};
use folio_cli::local::{self, Backend, ServeOptions};
use folio_cli::pdf::{self, PdfArgs};

#[derive(Parser)]
#[command(name = "folio", version, about = "Folio's local gateway and engines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn images into one PDF, one page an image, in the order given.
    Pdf(PdfArgs),
    /// Convert images to JPEG, PNG, WebP, AVIF, GIF, TIFF, BMP or PDF, resized, cropped, turned.
    Convert(ConvertArgs),
    /// Issue, list and revoke API keys and access key pairs (in the emulator with
    /// AWS_ENDPOINT_URL, else in AWS).
    Keys(KeysArgs),
    /// List the buckets of a data folder with their counts, or one bucket's keys.
    Buckets(BucketsArgs),
    /// Print Folio's OpenAPI 3.1 document (what `folio serve` serves at /openapi.json).
    Openapi,
    /// Serve the API and run its workers: on one machine with every record, queue and file
    /// in a data folder (the default), or on the AWS adapters against the endpoint
    /// AWS_ENDPOINT_URL names (`--backend aws`, the emulator).
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000", env = "FOLIO_SERVE_ADDR")]
        addr: SocketAddr,
        #[arg(long, value_enum, default_value = "embedded", env = "FOLIO_BACKEND")]
        backend: BackendKind,
        /// The data folder on one machine: records, queues, buckets, the master key.
        #[arg(long, default_value = ".folio/data", env = "FOLIO_DATA")]
        data: PathBuf,
        /// Pollers per work queue on one machine (default: the number of cores).
        #[arg(long, env = "FOLIO_WORKERS")]
        workers: Option<usize>,
        /// Prefix of the buckets, tables, queues and topics the AWS backend creates.
        #[arg(long, default_value = "folio-local", env = "FOLIO_STACK_PREFIX")]
        prefix: String,
        /// API keys and the local webhook secret (created on first run).
        #[arg(long, default_value = ".folio/local.json", env = "FOLIO_STATE_FILE")]
        state_file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendKind {
    /// One machine: SQLite and files in the data folder.
    Embedded,
    /// The AWS adapters, against AWS_ENDPOINT_URL (the emulator).
    Aws,
}

fn main() -> anyhow::Result<()> {
    folio_shared::telemetry::init();
    match Cli::parse().command {
        Command::Pdf(args) => match pdf::run(&args) {
            Ok(summary) => {
                eprintln!(
                    "{}: {} pages, {} bytes",
                    args.output.display(),
                    summary.pages,
                    summary.bytes
                );
                Ok(())
            }
            Err(message) => {
                eprintln!("folio pdf: {message}");
                std::process::exit(1);
            }
        },
        Command::Convert(args) => match convert::run(&args) {
            Ok(summary) => {
                if args.out_dir.is_some() {
                    eprintln!(
                        "{} converted, {} refused",
                        summary.converted,
                        summary.refused.len()
                    );
                }
                std::process::exit(if summary.refused.is_empty() { 0 } else { 1 });
            }
            Err(message) => {
                eprintln!("folio convert: {message}");
                std::process::exit(1);
            }
        },
        Command::Buckets(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            match runtime.block_on(buckets::run(&args)) {
                Ok(out) => {
                    println!("{out}");
                    Ok(())
                }
                Err(error) => {
                    eprintln!("folio buckets: {error:#}");
                    std::process::exit(1);
                }
            }
        }
        Command::Openapi => {
            print!("{}", folio_shared::openapi::text());
            Ok(())
        }
        Command::Keys(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            match runtime.block_on(keys::run(&args)) {
                Ok(out) => {
                    println!("{out}");
                    Ok(())
                }
                Err(error) => {
                    eprintln!("folio keys: {error:#}");
                    std::process::exit(1);
                }
            }
        }
        Command::Serve {
            addr,
            backend,
            data,
            workers,
            prefix,
            state_file,
        } => {
            let backend = match backend {
                BackendKind::Embedded => Backend::Embedded { data },
                BackendKind::Aws => Backend::Aws { prefix },
            };
            // Only the gateway is asynchronous: the engines' commands start no runtime.
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(ServeOptions {
                addr,
                backend,
                workers,
                state_file,
                config_overrides: Vec::new(),
            }))
        }
    }
}

async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let state_file = options.state_file.clone();
    let running = local::start(options).await?;
    println!("Folio is serving on http://{}", running.addr);
    if let Some(data) = &running.data {
        println!(
            "  data folder (records, queues, buckets; kept across restarts): {}",
            data.display()
        );
        println!(
            "  upload bucket: {}",
            data.join("buckets")
                .join(running.app.config.default_bucket())
                .display()
        );
    }
    if let Some(provisioned) = &running.provisioned {
        let env_file = state_file.with_file_name("lambda.env");
        std::fs::write(&env_file, running.lambda_env())?;
        println!("  upload bucket: {}", provisioned.names.bucket);
        println!(
            "  function environment for cargo lambda: {}",
            env_file.display()
        );
    }
    match &running.created_key {
        Some(key) => println!(
            "  created API key (kept in {}): {key}",
            state_file.display()
        ),
        None => println!("  API keys: in {}", state_file.display()),
    }
    for id in running.state.access_keys.keys() {
        println!(
            "  access key for the vendors' SDKs: {id} (its secret is in {})",
            state_file.display()
        );
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    println!("Stopping.");
    running.stop().await;
    Ok(())
}
