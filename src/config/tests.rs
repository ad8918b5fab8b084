//! Config tests. Expected texts were taken from real redis-server 7.0.15 runs.

use super::*;
use std::fs;

fn load_str(text: &str) -> Result<Config, ConfigError> {
    let mut c = Config::default();
    c.load_text(text.as_bytes())?;
    Ok(c)
}

fn get1(c: &Config, name: &str) -> String {
    let r = c.get(&[name.as_bytes()]);
    assert_eq!(r.len(), 1, "{name}: {r:?}");
    r[0].1.clone()
}

fn fatal(text: &str) -> String {
    match load_str(text) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error for {text:?}"),
    }
}

fn set(c: &mut Config, args: &[&str]) -> Result<Vec<&'static str>, String> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.set(&a)
}

#[test]
fn defaults_match_redis() {
    let c = Config::default();
    assert_eq!(get1(&c, "databases"), "16");
    assert_eq!(get1(&c, "port"), "6379");
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert_eq!(get1(&c, "bind"), "* -::*");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "maxmemory"), "0");
    assert_eq!(get1(&c, "proto-max-bulk-len"), "536870912");
    assert_eq!(get1(&c, "appendonly"), "no");
    assert_eq!(get1(&c, "maxmemory-policy"), "noeviction");
    assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "50 99 99.9");
    assert_eq!(get1(&c, "oom-score-adj-values"), "0 200 800");
    assert_eq!(get1(&c, "unixsocketperm"), "0");
    assert_eq!(get1(&c, "notify-keyspace-events"), "");
    assert_eq!(get1(&c, "slaveof"), "");
    assert_eq!(get1(&c, "shutdown-on-sigterm"), "default");
    assert_eq!(
        get1(&c, "proc-title-template"),
        "{title} {listen-addr} {server-mode}"
    );
    assert_eq!(get1(&c, "maxmemory-clients"), "0");
    assert_eq!(c.shards, value::default_shards());
    assert_eq!(get1(&c, "shards"), value::default_shards().to_string());
    assert_eq!(c.save_params, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(c.maxclients, 10000);
    assert!(c.protected_mode && c.latency_tracking && c.replica_read_only);
    assert!(c.ineffective().is_empty());
}

#[test]
fn get_star_lists_every_visible_directive_and_alias() {
    let c = Config::default();
    let all = c.get(&[b"*"]);
    // redis-server 7.0.15 (Debian build, with TLS) answers 192 pairs; ringkv adds `shards`.
    assert_eq!(all.len(), 193);
    let names: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"slaveof")
            && names.contains(&"slave-read-only")
            && names.contains(&"lua-time-limit")
    );
    assert!(
        !names.contains(&"key-load-delay"),
        "hidden configs need an exact name"
    );
    assert_eq!(get1(&c, "key-load-delay"), "0");
}

#[test]
fn get_patterns_aliases_and_case() {
    let c = Config::default();
    // An exact name answers under the spelling asked for.
    assert_eq!(
        c.get(&[b"PORT"]),
        vec![("PORT".to_string(), "6379".to_string())]
    );
    let slaves = c.get(&[b"slave*"]);
    let keys: Vec<&str> = slaves.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "slave-read-only",
        "slave-priority",
        "slaveof",
        "slave-announce-port",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    let multi = c.get(&[b"maxmemory", b"maxmemory*", b"nosuch"]);
    assert_eq!(multi.iter().filter(|(k, _)| k == "maxmemory").count(), 1);
    assert!(multi.iter().any(|(k, _)| k == "maxmemory-policy"));
    assert!(c.get(&[b"nosuch"]).is_empty());
    assert_eq!(
        c.get(&[b"DATA?ASES"]),
        vec![("databases".to_string(), "16".to_string())]
    );
}

#[test]
fn file_syntax_quotes_case_last_wins_units() {
    let c = load_str(
        "# comment\n\n  PORT 7000\nport 7001\t\r\nrequirepass \"p w\\n\"\nmasteruser 'bob'\n\
         maxmemory 1gb\nrepl-backlog-size 2MB\nclient-query-buffer-limit 2m\n\
         unixsocketperm 700\ndaemonize YES\nloglevel WARNING\n",
    )
    .unwrap();
    assert_eq!(c.port, 7001);
    assert_eq!(c.requirepass.as_deref(), Some(&b"p w\n"[..]));
    assert_eq!(c.masteruser.as_deref(), Some("bob"));
    assert_eq!(c.maxmemory, 1 << 30);
    assert_eq!(c.repl_backlog_size, 2 << 20);
    assert_eq!(c.unixsocketperm, 0o700);
    assert_eq!(get1(&c, "unixsocketperm"), "700");
    assert!(c.daemonize);
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.client_query_buffer_limit, 2_000_000);
    assert_eq!(get1(&c, "maxmemory"), "1073741824");
    // proto-max-bulk-len has a 1mb minimum.
    assert!(fatal("proto-max-bulk-len 1k")
        .ends_with("argument must be between 1048576 and 9223372036854775807 inclusive\n"));
}

#[test]
fn save_lines_accumulate_and_replace_defaults() {
    let c = load_str("save 900 1\nsave 300 10\n").unwrap();
    assert_eq!(c.save_params, vec![(900, 1), (300, 10)]);
    assert_eq!(get1(&c, "save"), "900 1 300 10");
    let c = load_str("save \"\"\n").unwrap();
    assert!(c.save_params.is_empty());
    assert_eq!(get1(&c, "save"), "");
    let c = load_str("save 900 1\nsave \"\"\n").unwrap();
    assert!(c.save_params.is_empty());
    let c = load_str("save 60 1 120 2\n").unwrap();
    assert_eq!(c.save_params, vec![(60, 1), (120, 2)]);
    // `--save "60 1"` arrives as a single quoted word.
    let c = load_str("save \"60 1\"\n").unwrap();
    assert_eq!(c.save_params, vec![(60, 1)]);
}

#[test]
fn aliases_in_file() {
    let c = load_str("slaveof 10.0.0.1 6380\nslave-read-only no\nslave-priority 5\nhash-max-ziplist-entries 64\n").unwrap();
    assert_eq!(c.replicaof, Some(("10.0.0.1".to_string(), 6380)));
    assert!(!c.replica_read_only);
    assert_eq!(c.replica_priority, 5);
    assert_eq!(get1(&c, "replicaof"), "10.0.0.1 6380");
    assert_eq!(get1(&c, "slaveof"), "10.0.0.1 6380");
    assert_eq!(get1(&c, "hash-max-listpack-entries"), "64");
    let c = load_str("replicaof 10.0.0.1 6380\nreplicaof no one\n").unwrap();
    assert_eq!(c.replicaof, None);
}

#[test]
fn fatal_reports_match_redis() {
    let report = |n: usize, line: &str, reason: &str| {
        format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {n}\n>>> '{line}'\n{reason}\n")
    };
    let cases = [
        ("foo bar", "Bad directive or wrong number of arguments"),
        ("port abc", "argument couldn't be parsed into an integer"),
        ("daemonize maybe", "argument must be 'yes' or 'no'"),
        ("maxmemory 1x", "argument must be a memory value"),
        ("port 1 2", "wrong number of arguments"),
        ("save 0 1", "Invalid save parameters"),
        (
            "loglevel xx",
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        ("bind \"a", "Unbalanced quotes in configuration line"),
        ("dir /nonexist", "No such file or directory"),
        ("replicaof a b", "Invalid master port"),
        (
            "client-output-buffer-limit foo 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "notify-keyspace-events Q",
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
        ),
        (
            "sentinel monitor a b c d",
            "sentinel directive while not in sentinel mode",
        ),
        (
            "appendfilename a/b",
            "appendfilename can't be a path, just a filename",
        ),
        (
            "shutdown-on-sigterm save nosave",
            "shutdown options SAVE and NOSAVE can't be used simultaneously",
        ),
        (
            "port 99999",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("a.b", "Module config specified without value"),
        ("include", "Bad directive or wrong number of arguments"),
        (
            "maxclients 0",
            "argument must be between 1 and 4294967295 inclusive",
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(
            fatal(&format!("# c\n{line}\n")),
            report(2, line, reason),
            "{line}"
        );
    }
    // The reported line is trimmed.
    assert_eq!(
        fatal("  foo bar \r\n"),
        report(1, "foo bar", "Bad directive or wrong number of arguments")
    );
    // Deprecated directives Redis still swallows.
    assert!(load_str("list-max-ziplist-entries 5\nlua-replicate-commands yes\n").is_ok());
}

#[test]
fn missing_include_is_an_open_error() {
    let e = fatal("include /nonexist/x.conf\n");
    assert_eq!(
        e,
        "Fatal error, can't open config file '/nonexist/x.conf': No such file or directory"
    );
    // A glob that matches nothing is fine.
    assert!(load_str("include /nonexist/*.conf\n").is_ok());
}

#[test]
fn include_globs_in_alphabetical_order() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.conf"), "port 7002\nsave 20 2\n").unwrap();
    fs::write(
        dir.path().join("a.conf"),
        "port 7001\nsave 10 1\nmaxmemory 10mb\n",
    )
    .unwrap();
    let main = dir.path().join("main.conf");
    fs::write(
        &main,
        format!(
            "port 7000\ninclude {}/*.conf\ndatabases 4\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // main.conf matches *.conf too but only the included directory's files count here.
    fs::write(
        &main,
        format!(
            "port 7000\ninclude {}/?.conf\ndatabases 4\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let c = Config::load(&ConfigSource {
        file: Some(main.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.port, 7002);
    assert_eq!(c.save_params, vec![(10, 1), (20, 2)]);
    assert_eq!(c.maxmemory, 10 << 20);
    assert_eq!(c.databases, 4);
    assert_eq!(c.config_file.as_deref(), Some(main.as_path()));
    // An error inside included files reports the line within the included text; the
    // files of one glob are concatenated (3 + 2 lines before c.conf), as in Redis.
    fs::write(dir.path().join("c.conf"), "\n\nbogus 1\n").unwrap();
    let e = Config::load(&ConfigSource {
        file: Some(main),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("at line 8\n>>> 'bogus 1'\n"), "{e}");
}

#[test]
fn overrides_win_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.conf");
    fs::write(&f, "port 7000\nsave 100 1\n").unwrap();
    let args = [
        "ringkv-server",
        f.to_str().unwrap(),
        "--port",
        "7005",
        "--save",
        "--shards",
        "3",
    ];
    let Argv::Run(src) = parse_argv(args.iter().map(std::ffi::OsString::from).collect()) else {
        panic!()
    };
    let c = Config::load(&src).unwrap();
    assert_eq!(c.port, 7005);
    assert!(c.save_params.is_empty());
    assert_eq!(c.shards, 3);
    assert_eq!(get1(&c, "shards"), "3");
}

#[test]
fn ineffective_lists_only_explicit_unimplemented() {
    let c = load_str("port 7000\nactiverehashing no\nhash-max-ziplist-entries 100\nrename-command FLUSHALL \"\"\n").unwrap();
    assert_eq!(
        c.ineffective(),
        vec![
            "activerehashing",
            "hash-max-listpack-entries",
            "rename-command"
        ]
    );
    assert_eq!(c.rename_commands, vec![(b"FLUSHALL".to_vec(), Vec::new())]);
}

#[test]
fn sentinel_lines_are_kept_in_sentinel_mode() {
    let mut c = Config::default();
    c.sentinel_mode = true;
    c.load_text(b"sentinel\nsentinel monitor mymaster 127.0.0.1 6379 2\n")
        .unwrap();
    assert_eq!(c.sentinel_lines.len(), 1);
    assert_eq!(c.sentinel_lines[0].linenum, 2);
    assert_eq!(c.sentinel_lines[0].args[0], b"monitor");
}

#[test]
fn hz_is_clamped() {
    assert_eq!(load_str("hz 0\n").unwrap().hz, 1);
    assert_eq!(load_str("hz 1000\n").unwrap().hz, 500);
    let mut c = Config::default();
    set(&mut c, &["hz", "0"]).unwrap();
    assert_eq!(get1(&c, "hz"), "1");
}

#[test]
fn config_set_errors_match_redis() {
    let mut c = Config::default();
    let err = |c: &mut Config, a: &[&str]| set(c, a).unwrap_err();
    assert_eq!(
        err(&mut c, &["foo", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        err(&mut c, &["port", "1", "port", "2"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - duplicate parameter"
    );
    assert_eq!(err(&mut c, &["maxmemory", "abc"]), "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    assert_eq!(err(&mut c, &["port", "abc"]), "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer");
    assert_eq!(err(&mut c, &["protected-mode", "x"]), "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'");
    assert_eq!(err(&mut c, &["daemonize", "yes"]), "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
    assert_eq!(err(&mut c, &["shards", "2"]), "ERR CONFIG SET failed (possibly related to argument 'shards') - can't set immutable config");
    assert_eq!(err(&mut c, &["port", "70000"]), "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive");
    assert_eq!(err(&mut c, &["maxclients", "0"]), "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive");
    assert_eq!(
        err(&mut c, &["save", "1 2 3"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        err(&mut c, &["save", "0 1"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        err(&mut c, &["dir", "/tmp"]),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        err(&mut c, &["shutdown-on-sigterm", "save nosave"]),
        "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigterm') - shutdown options SAVE and NOSAVE can't be used simultaneously"
    );
    assert_eq!(
        err(&mut c, &["notify-keyspace-events", "Q"]),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
    assert_eq!(err(&mut c, &["port"]), "ERR syntax error");
}

#[test]
fn config_set_is_atomic() {
    let mut c = Config::default();
    assert!(set(&mut c, &["maxmemory", "10mb", "port", "abc"]).is_err());
    assert_eq!(c.maxmemory, 0);
    assert_eq!(get1(&c, "maxmemory"), "0");
    let changed = set(
        &mut c,
        &["maxmemory", "10mb", "save", "10 1 20 2", "port", "6379"],
    )
    .unwrap();
    assert_eq!(changed, vec!["maxmemory", "save"], "port kept its value");
    assert_eq!(c.maxmemory, 10 << 20);
    assert_eq!(get1(&c, "save"), "10 1 20 2");
    set(&mut c, &["save", ""]).unwrap();
    assert!(c.save_params.is_empty());
    set(&mut c, &["notify-keyspace-events", "KEA"]).unwrap();
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    set(&mut c, &["notify-keyspace-events", "Kx"]).unwrap();
    assert_eq!(c.notify_keyspace_events, "xK");
    set(&mut c, &["shutdown-on-sigterm", "nosave now force"]).unwrap();
    assert_eq!(get1(&c, "shutdown-on-sigterm"), "nosave now force");
    assert_eq!(
        c.shutdown_on_sigterm,
        ShutdownFlags {
            save: false,
            nosave: true,
            now: true,
            force: true
        }
    );
    set(&mut c, &["maxmemory-clients", "10%"]).unwrap();
    assert_eq!(get1(&c, "maxmemory-clients"), "10%");
    set(&mut c, &["slave-priority", "7"]).unwrap();
    assert_eq!(c.replica_priority, 7);
    set(
        &mut c,
        &["client-output-buffer-limit", "pubsub 64mb 16mb 90"],
    )
    .unwrap();
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90"
    );
    set(&mut c, &["bind", "127.0.0.1 -::1"]).unwrap();
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    set(&mut c, &["requirepass", "secret"]).unwrap();
    assert_eq!(c.requirepass.as_deref(), Some(&b"secret"[..]));
    set(&mut c, &["requirepass", ""]).unwrap();
    assert_eq!(c.requirepass, None);
}

#[test]
fn protected_dir_with_enable_protected_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = load_str("enable-protected-configs yes\n").unwrap();
    set(&mut c, &["dir", tmp.path().to_str().unwrap()]).unwrap();
    assert_eq!(c.dir, fs::canonicalize(tmp.path()).unwrap());
    let mut c = load_str("enable-protected-configs local\n").unwrap();
    assert!(set(&mut c, &["dir", "/tmp"]).is_err());
    let a: Vec<&[u8]> = vec![b"dir", b"/tmp"];
    assert_eq!(c.set_from(&a, true).unwrap(), vec!["dir"]);
}

#[test]
fn every_directive_round_trips_through_get() {
    let c = Config::default();
    for (idx, d) in registry::DIRECTIVES.iter().enumerate() {
        let shown = get1(&c, d.name);
        // Feeding the printed value back as a config line is accepted and prints the same.
        let quoted = matches!(d.kind, registry::Kind::Str { .. }) || shown.is_empty();
        let line = if quoted {
            format!("{} {}", d.name, syntax::repr(shown.as_bytes()))
        } else {
            format!("{} {}", d.name, shown)
        };
        let mut c2 = Config::default();
        match c2.load_text(line.as_bytes()) {
            Ok(()) => assert_eq!(get1(&c2, d.name), shown, "{line}"),
            // Only these cannot take their own printed default back from a file.
            Err(e) => assert!(
                matches!(d.name, "appendfilename" | "appenddirname")
                    || c.value_at(idx) == &Value::ReplicaOf(None),
                "{line}: {e}"
            ),
        }
    }
}

#[test]
fn loads_debian_redis_conf_unchanged() {
    let path = Path::new("/etc/redis/redis.conf");
    if !path.exists() {
        return;
    }
    let c = Config::load(&ConfigSource {
        file: Some(path.to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.port, 6379);
    assert_eq!(c.databases, 16);
    assert_eq!(c.save_params, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert!(c.ineffective().contains(&"activerehashing".to_string()));
    assert!(!c.ineffective().contains(&"port".to_string()));
}

#[test]
fn loads_ringkv_conf() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/redis.conf");
    let text = fs::read(&path).unwrap();
    let mut c = Config::default();
    c.load_text(&text).unwrap();
    assert_eq!(c.port, 6379);
    assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
    assert_eq!(c.save_params, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(
        c.shards,
        value::default_shards(),
        "shards is commented out: automatic"
    );
    assert!(c.ineffective().is_empty(), "{:?}", c.ineffective());
}

#[test]
fn rewrite_keeps_comments_and_replaces_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.conf");
    let original = "# my config\nport 7000\n\n\n# memory\nmaxmemory 100mb\nsave 900 1\nsave 300 10\nbogus-line here\nslave-read-only yes\n";
    fs::write(&f, original).unwrap();
    let e = Config::load(&ConfigSource {
        file: Some(f.clone()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("bogus-line"));
    let good = original.replace("bogus-line here\n", "");
    fs::write(&f, &good).unwrap();
    let mut cfg = Config::load(&ConfigSource {
        file: Some(f.clone()),
        ..Default::default()
    })
    .unwrap();
    set(
        &mut cfg,
        &[
            "maxmemory",
            "2gb",
            "save",
            "60 5",
            "timeout",
            "30",
            "replica-read-only",
            "no",
        ],
    )
    .unwrap();
    cfg.rewrite().unwrap();
    let out = fs::read_to_string(&f).unwrap();
    let dir_line = format!("dir {}", syntax::repr(cfg.dir.to_string_lossy().as_bytes()));
    let expected = format!(
        "# my config\nport 7000\n\n# memory\nmaxmemory 2gb\nsave 60 5\n\nreplica-read-only no\n\n\
         # Generated by CONFIG REWRITE\ntimeout 30\n{dir_line}\nlatency-tracking-info-percentiles 50 99 99.9\n"
    );
    assert_eq!(out, expected);
    // Rewriting again only adds the empty line Redis adds too (the file's final
    // newline counts as an empty last line), then it is stable.
    cfg.rewrite().unwrap();
    assert_eq!(fs::read_to_string(&f).unwrap(), format!("{expected}\n"));
    cfg.rewrite().unwrap();
    assert_eq!(fs::read_to_string(&f).unwrap(), format!("{expected}\n"));
    // The file loads back to the same values.
    let again = Config::load(&ConfigSource {
        file: Some(f.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(again.get(&[b"*"]), cfg.get(&[b"*"]));
}

#[test]
fn rewrite_marks_unknown_lines_and_defaults() {
    let cfg = Config::default();
    let out = cfg.rewrite_content(
        b"# c\nunknown-directive 1\nmaxmemory 0\ninclude /x.conf\nrename-command A B\n",
    );
    let out = String::from_utf8(out).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("# c"));
    assert_eq!(lines.next(), Some("# ??? unknown-directive 1"));
    assert_eq!(
        lines.next(),
        Some("maxmemory 0"),
        "present in the file: kept even at default"
    );
    assert_eq!(lines.next(), Some("include /x.conf"));
    assert_eq!(lines.next(), Some("rename-command A B"));
    assert_eq!(lines.next(), Some(""), "the old file's final newline");
    assert_eq!(lines.next(), Some("# Generated by CONFIG REWRITE"));
    assert!(
        out.contains("\nsave 3600 1\nsave 300 100\nsave 60 10000\n"),
        "{out}"
    );
}

#[test]
fn rewrite_without_file_is_an_error() {
    assert_eq!(
        Config::default().rewrite().unwrap_err(),
        "ERR The server is running without a config file"
    );
}

#[test]
fn argv_errors_report_like_redis() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.conf");
    fs::write(&ok, "port 0\n").unwrap();
    let ok = ok.to_str().unwrap().to_string();
    let report = |n: usize, line: &str, reason: &str| {
        format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {n}\n>>> '{line}'\n{reason}\n")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--bogus", "1"],
            report(
                2,
                "bogus \"1\"",
                "Bad directive or wrong number of arguments",
            ),
        ),
        (
            vec!["--port"],
            report(2, "port", "wrong number of arguments"),
        ),
        (
            vec!["--port", "0", "--maxmemory", "1x"],
            report(3, "maxmemory \"1x\"", "argument must be a memory value"),
        ),
        (
            vec!["--save", "0", "1"],
            report(2, "save \"0\" \"1\"", "Invalid save parameters"),
        ),
        (
            vec![ok.as_str(), "--daemonize", "maybe"],
            report(3, "daemonize \"maybe\"", "argument must be 'yes' or 'no'"),
        ),
    ];
    for (args, expected) in cases {
        let mut argv = vec![std::ffi::OsString::from("ringkv-server")];
        argv.extend(args.iter().map(std::ffi::OsString::from));
        let Argv::Run(src) = parse_argv(argv) else {
            panic!("{args:?}")
        };
        assert_eq!(
            Config::load(&src).unwrap_err().to_string(),
            expected,
            "{args:?}"
        );
    }
}

#[test]
fn more_config_set_cases_match_redis() {
    let mut c = load_str("enable-protected-configs yes\n").unwrap();
    let err = |c: &mut Config, a: &[&str]| set(c, a).unwrap_err();
    let failed = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    assert_eq!(
        err(&mut c, &["slave-priority", "abc"]),
        failed(
            "slave-priority",
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        err(&mut c, &["PORT", "abc"]),
        failed("port", "argument couldn't be parsed into an integer")
    );
    assert_eq!(
        err(&mut c, &["DAEMONIZE", "yes"]),
        failed("DAEMONIZE", "can't set immutable config")
    );
    assert_eq!(
        err(&mut c, &["dir", "/nonexist"]),
        failed("dir", "No such file or directory")
    );
    assert_eq!(
        err(&mut c, &["dir", "/etc/hostname"]),
        failed("dir", "Not a directory")
    );
    assert_eq!(
        err(&mut c, &["client-output-buffer-limit", "normal 1 2"]),
        failed(
            "client-output-buffer-limit",
            "Wrong number of arguments in buffer limit configuration."
        )
    );
    assert_eq!(
        err(&mut c, &["client-output-buffer-limit", "master 1 2 3"]),
        failed(
            "client-output-buffer-limit",
            "Invalid client class specified in buffer limit configuration."
        )
    );
    assert_eq!(
        err(&mut c, &["oom-score-adj-values", "1 2"]),
        failed("oom-score-adj-values", "wrong number of arguments")
    );
    assert_eq!(
        err(&mut c, &["latency-tracking-info-percentiles", "abc"]),
        failed(
            "latency-tracking-info-percentiles",
            "Invalid latency-tracking-info-percentiles parameters"
        )
    );
    assert_eq!(
        err(&mut c, &["latency-tracking-info-percentiles", "101"]),
        failed(
            "latency-tracking-info-percentiles",
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        )
    );
    assert_eq!(
        err(&mut c, &["maxmemory-clients", "200%"]),
        failed(
            "maxmemory-clients",
            "percentage argument must be less or equal to 100"
        )
    );
    assert_eq!(
        err(&mut c, &["cluster-announce-hostname", "a_b"]),
        failed(
            "cluster-announce-hostname",
            "Hostnames may only contain alphanumeric characters, hyphens or dots"
        )
    );
    assert_eq!(
        err(&mut c, &["proc-title-template", "{bogus}"]),
        failed(
            "proc-title-template",
            "template format is invalid or contains unknown variables"
        )
    );
    assert_eq!(
        err(&mut c, &["dbfilename", "a/b"]),
        failed("dbfilename", "dbfilename can't be a path, just a filename")
    );
    assert_eq!(
        err(&mut c, &["port", "abc", "foo", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );

    set(&mut c, &["maxmemory", ""]).unwrap();
    assert_eq!(get1(&c, "maxmemory"), "0");
    set(&mut c, &["bind", ""]).unwrap();
    assert_eq!(get1(&c, "bind"), "");
    assert!(c.bind.is_empty());
    set(&mut c, &["latency-tracking-info-percentiles", "50.5 99"]).unwrap();
    assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "50.5 99");
    set(&mut c, &["appendfsync", "ALWAYS"]).unwrap();
    assert_eq!(c.appendfsync, "always");
    set(&mut c, &["oom-score-adj", "relative"]).unwrap();
    assert_eq!(get1(&c, "oom-score-adj"), "yes");
    assert_eq!(
        c.get(&[b"MAXMEMORY"]),
        vec![("MAXMEMORY".to_string(), "0".to_string())]
    );
}

#[test]
fn ineffective_changed_skips_defaults_and_sensitive_names() {
    let c = load_str("activerehashing yes\nhz 20\nlist-max-listpack-size -1\n").unwrap();
    assert_eq!(
        c.ineffective(),
        vec!["activerehashing", "list-max-listpack-size"]
    );
    assert_eq!(c.ineffective_changed(), vec!["list-max-listpack-size"]);
    assert!(is_sensitive(b"REQUIREPASS") && is_sensitive(b"masterauth") && !is_sensitive(b"port"));
}

#[test]
fn rewrite_with_sentinel_lines() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sentinel.conf");
    fs::write(&f, "port 26379\nsentinel monitor m 127.0.0.1 6379 2\nsentinel myid old\nsentinel known-replica m a 1\n").unwrap();
    let src = ConfigSource {
        file: Some(f.clone()),
        sentinel: true,
        ..Default::default()
    };
    let c = Config::load(&src).unwrap();
    assert_eq!(c.sentinel_lines.len(), 3);
    c.rewrite_with(&[
        ("sentinel myid", vec!["sentinel myid abc".to_string()]),
        (
            "sentinel monitor",
            vec!["sentinel monitor m 127.0.0.1 6380 2".to_string()],
        ),
        ("sentinel known-replica", vec![]),
        (
            "sentinel current-epoch",
            vec!["sentinel current-epoch 1".to_string()],
        ),
    ])
    .unwrap();
    let out = fs::read_to_string(&f).unwrap();
    assert!(
        out.starts_with("port 26379\nsentinel monitor m 127.0.0.1 6380 2\nsentinel myid abc\n\n"),
        "{out}"
    );
    assert!(out.contains("\nsentinel current-epoch 1\n"), "{out}");
    assert!(!out.contains("known-replica"), "{out}");
    assert!(
        !out.contains("\nsave "),
        "sentinel mode does not write save lines: {out}"
    );
}

#[test]
fn user_lines_are_checked_like_redis_then_refused_on_the_data_node() {
    // Redis 7.0.15: the second line of the same user stops the server.
    let e = fatal("port 1\nuser foo on\nuser foo on\n");
    assert!(
        e.contains("Reading the configuration file, at line 3"),
        "{e}"
    );
    assert!(e.contains(">>> 'user foo on'"), "{e}");
    assert!(
        e.contains(
            "Error in user declaration 'foo': Duplicate user found. A user can only be \
             defined once in config files"
        ),
        "{e}"
    );
    // A valid user line is not ignored: the data node has no ACL users to give it.
    let e = fatal("port 1\nuser alice on >pw ~* +@all\nport 2\n");
    assert!(e.contains("at line 2"), "{e}");
    assert!(e.contains(USER_UNSUPPORTED), "{e}");
    // Sentinel keeps them.
    let mut c = Config {
        sentinel_mode: true,
        ..Config::default()
    };
    c.load_text(b"user alice on >pw\n").unwrap();
    assert_eq!(c.users.len(), 1);
}
