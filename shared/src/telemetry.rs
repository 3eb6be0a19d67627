//! Structured logs: JSON in Lambda (one object a line, for CloudWatch), plain text locally,
//! in colour only when standard error is a terminal (a log file gets no escape codes).
//! `RUST_LOG` sets the filter (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = quiet_secrets(filter);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init`: a second call (tests, serve) keeps the first subscriber.
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
}

/// The FTP client traces every command it sends, the password's `PASS` among them: its
/// records stop at `info` whatever `RUST_LOG` asks.
fn quiet_secrets(filter: EnvFilter) -> EnvFilter {
    // Invariant: a constant, valid directive.
    filter.add_directive("suppaftp=info".parse().expect("a valid directive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ftp_client_never_traces_even_when_asked() {
        let filter = quiet_secrets(EnvFilter::new("trace,suppaftp=trace"));
        let text = filter.to_string();
        assert!(text.contains("suppaftp=info"), "{text}");
        assert!(!text.contains("suppaftp=trace"), "{text}");
    }
}
