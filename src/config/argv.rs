//! redis-server style command line: `ringkv-server [/path/to/conf] [--directive args ...] [-]`
//! (server.c `main()`), with `-v`/`--version` and `-h`/`--help` handled by clap.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};

use super::syntax::{repr, split_args};
use super::value::absolute;

/// What the process should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Argv {
    /// Print this to stdout and exit 0.
    Version(String),
    /// Print this to stderr and exit 1 (as redis-server's `usage()` does).
    Help(String),
    Run(ConfigSource),
}

/// Where the configuration comes from; [`super::Config::load`] reads it in this order:
/// the file, then stdin, then `overrides` (so the command line wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigSource {
    /// The config file, made absolute.
    pub file: Option<PathBuf>,
    /// `-` was given: read config text from stdin after the file.
    pub stdin: bool,
    /// `--name value ...` options turned into config lines (`name "value"`).
    pub overrides: String,
    /// Sentinel mode was requested (`--sentinel`, or argv[0] contains `redis-sentinel`).
    pub sentinel: bool,
}

fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// The `-v` line, with Redis' field names and ringkv's own version first.
pub fn version_string() -> String {
    // A stable build id, as Redis derives one from its build: a hash of what we are.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!(
        "ringkv {} {}",
        crate::RINGKV_VERSION,
        std::env::consts::ARCH
    )
    .bytes()
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "ringkv-server v={} redis_version={} sha=00000000:0 malloc=mimalloc bits={} build={h:x}\n",
        crate::RINGKV_VERSION,
        crate::REDIS_VERSION,
        usize::BITS
    )
}

/// The usage block, shaped like redis-server's.
pub fn usage_string() -> String {
    let p = "ringkv-server";
    format!(
        "Usage: {p} [/path/to/redis.conf] [options] [-]\n\
         \x20      {p} - (read config from stdin)\n\
         \x20      {p} -v or --version\n\
         \x20      {p} -h or --help\n\
         \n\
         Examples:\n\
         \x20      {p} (run the server with default conf)\n\
         \x20      echo 'maxmemory 128mb' | {p} -\n\
         \x20      {p} /etc/redis/6379.conf\n\
         \x20      {p} --port 7777\n\
         \x20      {p} --port 7777 --replicaof 127.0.0.1 8888\n\
         \x20      {p} /etc/myredis.conf --loglevel verbose -\n\
         \x20      {p} /etc/myredis.conf --loglevel verbose\n\
         \x20      {p} --shards 4\n\
         \n\
         Sentinel mode:\n\
         \x20      {p} /etc/sentinel.conf --sentinel\n"
    )
}

/// Recognises `-v`/`--version`/`-h`/`--help` as the first argument (as redis-server does).
fn flag_command() -> Command {
    Command::new("ringkv-server")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue),
        )
}

/// Parses the process arguments (including argv[0]).
pub fn parse_argv(args: Vec<OsString>) -> Argv {
    let argv: Vec<String> = args.iter().map(lossy).collect();
    let exec_name = argv.first().cloned().unwrap_or_default();
    let sentinel =
        exec_name.contains("redis-sentinel") || argv.iter().skip(1).any(|a| a == "--sentinel");
    let mut src = ConfigSource {
        sentinel,
        ..ConfigSource::default()
    };
    if argv.len() < 2 {
        return Argv::Run(src);
    }

    if matches!(argv[1].as_str(), "-v" | "--version" | "-h" | "--help") {
        if let Ok(m) = flag_command().try_get_matches_from([exec_name.as_str(), argv[1].as_str()]) {
            if m.get_flag("version") {
                return Argv::Version(version_string());
            }
            if m.get_flag("help") {
                return Argv::Help(usage_string());
            }
        }
    }

    let argc = argv.len();
    let mut j = 1;
    if !argv[1].starts_with('-') {
        src.file = Some(absolute(&PathBuf::from(&args[1])));
        j = 2;
    }
    let mut options = String::new();
    let mut handled_last = true;
    while j < argc {
        let a = argv[j].as_str();
        let is_last = j == argc - 1;
        let next_is_option = !is_last && argv[j + 1].starts_with("--");
        if a == "-" && (j == 1 || is_last) {
            src.stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            let words = split_args(a.as_bytes()).map(|w| w.len()).unwrap_or(1);
            if words == 1 {
                handled_last = false;
                let is_save = a.eq_ignore_ascii_case("--save");
                let is_sentinel = a.eq_ignore_ascii_case("--sentinel");
                if is_save && (next_is_option || is_last) {
                    // `--save` with no value means `--save ""` (snapshots off).
                    options.push_str("\"\"");
                    handled_last = true;
                } else if is_sentinel && next_is_option {
                    handled_last = true;
                }
            } else {
                // "--port 6380" in one argument carries its own value.
                handled_last = true;
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            handled_last = true;
        }
        j += 1;
    }
    src.overrides = options;
    Argv::Run(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> ConfigSource {
        match parse_argv(args.iter().map(OsString::from).collect()) {
            Argv::Run(s) => s,
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn file_then_options() {
        let s = run(&[
            "ringkv-server",
            "/etc/redis/redis.conf",
            "--port",
            "6380",
            "--replicaof",
            "127.0.0.1",
            "6379",
        ]);
        assert_eq!(s.file, Some(PathBuf::from("/etc/redis/redis.conf")));
        assert_eq!(
            s.overrides,
            "port \"6380\" \nreplicaof \"127.0.0.1\" \"6379\" "
        );
        assert!(!s.stdin && !s.sentinel);
    }

    #[test]
    fn relative_file_made_absolute() {
        let s = run(&["ringkv-server", "redis.conf"]);
        let f = s.file.unwrap();
        assert!(f.is_absolute());
        assert!(f.ends_with("redis.conf"));
    }

    #[test]
    fn stdin_dash_first_or_last() {
        assert!(run(&["x", "-"]).stdin);
        let s = run(&["x", "/a.conf", "--loglevel", "verbose", "-"]);
        assert!(s.stdin);
        assert_eq!(s.overrides, "loglevel \"verbose\" ");
    }

    #[test]
    fn save_special_cases() {
        assert_eq!(run(&["x", "--save"]).overrides, "save \"\"");
        assert_eq!(
            run(&["x", "--save", "--port", "1"]).overrides,
            "save \"\"\nport \"1\" "
        );
        assert_eq!(run(&["x", "--save", ""]).overrides, "save \"\" ");
        assert_eq!(
            run(&["x", "--save", "60", "1"]).overrides,
            "save \"60\" \"1\" "
        );
    }

    #[test]
    fn sentinel_pseudo_directive() {
        let s = run(&["x", "/s.conf", "--sentinel", "--port", "26380"]);
        assert!(s.sentinel);
        assert_eq!(s.overrides, "sentinel \nport \"26380\" ");
        assert!(run(&["/usr/bin/redis-sentinel", "/s.conf"]).sentinel);
        assert!(run(&["x", "--sentinel"]).sentinel);
    }

    #[test]
    fn option_with_value_in_one_argument() {
        assert_eq!(
            run(&["x", "--port 6380", "--bind", "a", "b"]).overrides,
            "port 6380 \nbind \"a\" \"b\" "
        );
    }

    #[test]
    fn version_and_help() {
        let v = parse_argv(vec!["x".into(), "-v".into()]);
        match v {
            Argv::Version(s) => {
                assert!(s.starts_with("ringkv-server v=") && s.contains("redis_version=7.0.15"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_argv(vec!["x".into(), "--version".into()]),
            Argv::Version(_)
        ));
        match parse_argv(vec!["x".into(), "-h".into()]) {
            Argv::Help(s) => {
                assert!(s.starts_with("Usage: ringkv-server [/path/to/redis.conf] [options] [-]"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_argv(vec!["x".into(), "--help".into()]),
            Argv::Help(_)
        ));
    }
}
