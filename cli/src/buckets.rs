//! `folio buckets`: what the buckets of a data folder hold (one machine). A bucket is a
//! folder under `<data>/buckets/`; copying files in fills it.

use std::path::PathBuf;

use clap::Args;
use folio_shared::embedded::DataFolder;
use folio_shared::ports::TaskStorage;

#[derive(Args)]
pub struct BucketsArgs {
    /// The data folder (`folio serve --data`).
    #[arg(long, default_value = ".folio/data", env = "FOLIO_DATA")]
    pub data: PathBuf,
    /// A bucket to list the keys of (every bucket, with its counts, when absent).
    pub bucket: Option<String>,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
}

/// Runs the command; returns what to print.
pub async fn run(args: &BucketsArgs) -> anyhow::Result<String> {
    let folder = DataFolder::open(&args.data, false)?;
    let buckets = folder.buckets("")?;
    let names = match &args.bucket {
        Some(bucket) => vec![bucket.clone()],
        None => buckets.bucket_names()?,
    };
    let mut lines = Vec::new();
    for bucket in names {
        let (mut count, mut bytes, mut after) = (0u64, 0u64, String::new());
        loop {
            let (keys, more) = buckets.list(&bucket, &args.prefix, &after, 1000).await?;
            for key in &keys {
                let size = buckets.open(&bucket, key).map(|(_, i)| i.size).unwrap_or(0);
                count += 1;
                bytes += size;
                if args.bucket.is_some() {
                    lines.push(format!("{size}\t{key}"));
                }
            }
            match keys.last() {
                Some(last) if more => after = last.clone(),
                _ => break,
            }
        }
        if args.bucket.is_none() {
            lines.push(format!("{bucket}\t{count} objects\t{bytes} bytes"));
        }
    }
    Ok(lines.join("\n"))
}
