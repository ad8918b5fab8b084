//! Configuration errors, displayed exactly as redis-server reports them.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration could not be loaded. `Display` is the text redis-server prints
/// to stderr before `exit(1)`; print it with `eprint!` (it carries its own newlines).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A bad line: the `*** FATAL CONFIG FILE ERROR ***` report.
    #[error("{}", fatal_report(.line.as_ref(), .reason))]
    Fatal {
        /// 1-based line number inside the text being parsed, and the trimmed line.
        line: Option<(usize, String)>,
        reason: String,
    },
    /// The config file (or an included one) cannot be opened.
    #[error("Fatal error, can't open config file '{}': {reason}", .path.display())]
    Open { path: PathBuf, reason: String },
    /// Reading the configuration from stdin failed.
    #[error("Fatal error, can't read config from stdin: {0}")]
    Stdin(String),
}

fn fatal_report(line: Option<&(usize, String)>, reason: &str) -> String {
    let mut s = format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n",
        crate::REDIS_VERSION
    );
    if let Some((n, text)) = line {
        s.push_str(&format!(
            "Reading the configuration file, at line {n}\n>>> '{text}'\n"
        ));
    }
    s.push_str(reason);
    s.push('\n');
    s
}

impl ConfigError {
    pub(crate) fn at(linenum: usize, line: &[u8], reason: impl fmt::Display) -> Self {
        ConfigError::Fatal {
            line: Some((linenum, String::from_utf8_lossy(line).into_owned())),
            reason: reason.to_string(),
        }
    }
}
