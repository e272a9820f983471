//! The command line, as the OpenTelemetry Operator drives it: `--config=/conf/collector.yaml`
//! (or `--config PATH`) followed by any `--key=value` from `spec.args`, which are tolerated and
//! logged; `validate --config=PATH` checks a config and exits non-zero with located errors;
//! `prepare-dir --dir=PATH --owner=UID:GID` readies a persistent queue's node directory
//! (`prepare_dir.rs`).
//!
//! `--skip-unsupported-pipelines` (or `XRAY_COLLECTOR_SKIP_UNSUPPORTED_PIPELINES=true`) is the
//! explicit opt-in that skips metrics and logs pipelines instead of refusing the config
//! (`config::LoadOptions`); each skipped pipeline is logged at WARN at every start and shown on
//! `/metrics` as `xray_collector_skipped_pipelines{pipeline}`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{self, duration};
use crate::prepare_dir::{PrepareDir, parse_owner};
use crate::service::{self, RunSettings};
use crate::telemetry;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Validate(Options),
    PrepareDir(PrepareDir),
    Help,
    Version,
}

/// Options shared by `run` and `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: PathBuf,
    /// `--shutdown-timeout=DURATION` (default 25s, inside Kubernetes' 30 s grace period).
    pub shutdown_timeout: Duration,
    /// Arguments accepted but not used, such as `--feature-gates=...`.
    pub ignored: Vec<String>,
    /// `--skip-unsupported-pipelines`.
    pub skip_unsupported_pipelines: bool,
}

/// The environment variable that sets `--skip-unsupported-pipelines` (`true` or `1`).
pub const SKIP_ENV: &str = "XRAY_COLLECTOR_SKIP_UNSUPPORTED_PIPELINES";

const USAGE: &str = "usage: xray-collector [validate] --config=PATH [--shutdown-timeout=25s] [--skip-unsupported-pipelines] [--KEY=VALUE ...]\n       xray-collector prepare-dir --dir=PATH --owner=UID:GID";

/// A command line this program does not accept (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0} needs {1}")]
    MissingValue(&'static str, &'static str),
    #[error("--config given twice ({first} and {second}); merging configs is not supported")]
    ConfigTwice { first: String, second: String },
    #[error("--shutdown-timeout")]
    ShutdownTimeout(#[source] duration::DurationError),
    #[error("unexpected argument `{0}`\n{USAGE}")]
    Unexpected(String),
    #[error("missing --config\n{USAGE}")]
    MissingConfig,
    #[error("--skip-unsupported-pipelines takes true or false, not `{0}`")]
    SkipValue(String),
    #[error("prepare-dir needs --dir=PATH and --owner=UID:GID\n{USAGE}")]
    PrepareDir,
}

/// `prepare-dir --dir=PATH --owner=UID:GID`.
fn parse_prepare_dir(args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let (mut dir, mut owner) = (None, None);
    for arg in args {
        match arg.split_once('=') {
            Some(("--dir", v)) if !v.is_empty() => dir = Some(PathBuf::from(v)),
            Some(("--owner", v)) => owner = Some(parse_owner(v).ok_or(UsageError::PrepareDir)?),
            _ => return Err(UsageError::Unexpected(arg)),
        }
    }
    match (dir, owner) {
        (Some(dir), Some((uid, gid))) => Ok(Command::PrepareDir(PrepareDir { dir, uid, gid })),
        _ => Err(UsageError::PrepareDir),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "prepare-dir") {
        args.next();
        return parse_prepare_dir(args);
    }
    let validate = args.peek().is_some_and(|a| a == "validate");
    if validate {
        args.next();
    }
    let mut config: Option<PathBuf> = None;
    let mut shutdown_timeout = Duration::from_secs(25);
    let mut ignored = Vec::new();
    let mut skip_unsupported_pipelines = false;
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        match key.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-v" => return Ok(Command::Version),
            "--config" | "-c" => {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or(UsageError::MissingValue("--config", "a path"))?,
                };
                if let Some(prev) = &config {
                    return Err(UsageError::ConfigTwice {
                        first: prev.display().to_string(),
                        second: value,
                    });
                }
                if value.is_empty() {
                    return Err(UsageError::MissingValue("--config", "a path"));
                }
                config = Some(PathBuf::from(value));
            }
            "--shutdown-timeout" => {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or(UsageError::MissingValue("--shutdown-timeout", "a duration"))?,
                };
                shutdown_timeout = duration::parse(&value).map_err(UsageError::ShutdownTimeout)?;
            }
            "--skip-unsupported-pipelines" => {
                skip_unsupported_pipelines = match inline.as_deref() {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => return Err(UsageError::SkipValue(other.to_owned())),
                };
            }
            k if k.starts_with("--") => ignored.push(arg),
            _ => return Err(UsageError::Unexpected(arg)),
        }
    }
    let config = config.ok_or(UsageError::MissingConfig)?;
    let options = Options {
        config,
        shutdown_timeout,
        ignored,
        skip_unsupported_pipelines,
    };
    Ok(if validate {
        Command::Validate(options)
    } else {
        Command::Run(options)
    })
}

/// The program: parse, then validate or run. Exit codes: 0 success, 1 invalid config or startup
/// failure, 2 bad usage.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let command = match parse(args) {
        Ok(Command::Run(o)) => Command::Run(with_env(o)),
        Ok(Command::Validate(o)) => Command::Validate(with_env(o)),
        Ok(c) => c,
        Err(e) => {
            eprintln!("xray-collector: {}", telemetry::logs::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("xray-collector {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Validate(options) => {
            match config::load_file_with(&options.config, load_options(&options)) {
                Ok(loaded) => {
                    for w in &loaded.warnings {
                        eprintln!("warning: {w}");
                    }
                    println!("{}: valid", options.config.display());
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    for e in &errors.0 {
                        eprintln!("error: {e}");
                    }
                    ExitCode::from(1)
                }
            }
        }
        Command::PrepareDir(prepare) => match prepare.run() {
            Ok(()) => {
                println!("{}: ready", prepare.dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xray-collector: {}", telemetry::logs::error_chain(&e));
                ExitCode::from(1)
            }
        },
        Command::Run(options) => run(options),
    }
}

/// `--skip-unsupported-pipelines` from the environment, when the flag is not given.
fn with_env(mut o: Options) -> Options {
    if !o.skip_unsupported_pipelines {
        o.skip_unsupported_pipelines =
            std::env::var(SKIP_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    }
    o
}

fn load_options(o: &Options) -> config::LoadOptions {
    config::LoadOptions {
        skip_unsupported_pipelines: o.skip_unsupported_pipelines,
    }
}

fn run(options: Options) -> ExitCode {
    let loaded = match config::load_file_with(&options.config, load_options(&options)) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            return ExitCode::from(1);
        }
    };
    let logs = &loaded.config.service.telemetry.logs;
    telemetry::logs::init(&logs.level.to_ascii_lowercase(), &logs.encoding);
    tracing::info!(config = %options.config.display(), version = env!("CARGO_PKG_VERSION"), "Starting xray-collector.");
    for arg in &options.ignored {
        tracing::warn!(argument = %arg, "Ignoring unknown command-line argument.");
    }
    for w in &loaded.warnings {
        tracing::warn!(location = %w, "Config warning.");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the async runtime.");
            return ExitCode::from(1);
        }
    };
    let settings = RunSettings {
        shutdown_timeout: options.shutdown_timeout,
        skipped_pipelines: loaded.skipped_pipelines.clone(),
    };
    // A start-up error may quote a setting; one that came from `${env:...}` shows as written.
    let redactions = loaded.redactions;
    match runtime.block_on(service::run(loaded.config, settings, shutdown_signal())) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let error = redactions.redact(&format!("{e:#}"));
            tracing::error!(error = %error, "Collector failed.");
            ExitCode::from(1)
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "Received signal."),
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "Received signal."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn operator_style_arguments() {
        let c = parse(args(&[
            "--config=/conf/collector.yaml",
            "--feature-gates=-foo",
        ]))
        .unwrap();
        let Command::Run(o) = c else {
            panic!("expected run")
        };
        assert_eq!(o.config, PathBuf::from("/conf/collector.yaml"));
        assert_eq!(o.ignored, vec!["--feature-gates=-foo".to_owned()]);
        let c = parse(args(&[
            "validate",
            "--config",
            "x.yaml",
            "--shutdown-timeout=3s",
        ]))
        .unwrap();
        let Command::Validate(o) = c else {
            panic!("expected validate")
        };
        assert_eq!(o.shutdown_timeout, Duration::from_secs(3));
        assert!(!o.skip_unsupported_pipelines);
        let Command::Run(o) = parse(args(&["--config=c", "--skip-unsupported-pipelines"])).unwrap()
        else {
            panic!("expected run")
        };
        assert!(o.skip_unsupported_pipelines);
        assert!(o.ignored.is_empty());
        assert!(
            parse(args(&["--config=c", "--skip-unsupported-pipelines=yes"]))
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
    }

    #[test]
    fn prepare_dir_arguments() {
        let c = parse(args(&["prepare-dir", "--dir=/q", "--owner=10001:10002"])).unwrap();
        assert_eq!(
            c,
            Command::PrepareDir(PrepareDir {
                dir: PathBuf::from("/q"),
                uid: 10001,
                gid: 10002
            })
        );
        for bad in [
            &["prepare-dir", "--dir=/q"][..],
            &["prepare-dir", "--dir=/q", "--owner=x"],
            &["prepare-dir", "--dir=/q", "--owner=1:1", "--config=a"],
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn usage_errors() {
        assert!(
            parse(args(&[]))
                .unwrap_err()
                .to_string()
                .contains("missing --config")
        );
        assert!(
            parse(args(&["--config"]))
                .unwrap_err()
                .to_string()
                .contains("needs a path")
        );
        assert!(
            parse(args(&["--config=a", "--config=b"]))
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            parse(args(&["run"]))
                .unwrap_err()
                .to_string()
                .contains("unexpected argument")
        );
    }
}
