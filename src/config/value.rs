//! Directive values: parsing arguments into a [`Value`] (file lines and CONFIG SET share
//! it), printing for CONFIG GET, and the lines CONFIG REWRITE writes.

use std::path::{Path, PathBuf};

use super::registry::{Directive, Kind, NumFmt, Special, MULTI_ARG, VOLATILE};
use super::syntax::{parse_i64, parse_memory, parse_strtoll, repr};

/// One client class limit of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Client classes in Redis' order: normal, replica (shown as `slave`), pubsub.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];
pub const OBUF_DEFAULTS: [ObufLimit; 3] = [
    ObufLimit {
        hard: 0,
        soft: 0,
        soft_seconds: 0,
    },
    ObufLimit {
        hard: 256 << 20,
        soft: 64 << 20,
        soft_seconds: 60,
    },
    ObufLimit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_seconds: 60,
    },
];
pub const OOM_DEFAULTS: [i32; 3] = [0, 200, 800];
pub const SAVE_DEFAULTS: [(u64, u64); 3] = [(3600, 1), (300, 100), (60, 10000)];
pub const BIND_DEFAULTS: [&str; 2] = ["*", "-::*"];
pub const BIND_MAX: usize = 16;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Num(i128),
    /// `None` is Redis' NULL string (unset).
    Str(Option<Vec<u8>>),
    Enum(u32),
    Dir(PathBuf),
    Save(Vec<(u64, u64)>),
    Obuf([ObufLimit; 3]),
    Oom([i32; 3]),
    Notify(u32),
    Bind(Vec<String>),
    ReplicaOf(Option<(String, u16)>),
    Percentiles(Vec<f64>),
}

/// Number of shard executors when `shards` is not configured.
pub fn default_shards() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub fn default_value(d: &Directive) -> Value {
    match d.kind {
        Kind::Bool(b) => Value::Bool(b),
        Kind::Num { default, .. } => Value::Num(default),
        Kind::Str {
            default,
            empty_is_null,
            ..
        } => match default {
            None => Value::Str(None),
            Some(s) if s.is_empty() && empty_is_null => Value::Str(None),
            Some(s) => Value::Str(Some(s.as_bytes().to_vec())),
        },
        Kind::Enum { default, .. } => Value::Enum(default),
        Kind::Special(s) => match s {
            Special::Dir => {
                Value::Dir(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
            }
            Special::Save => Value::Save(SAVE_DEFAULTS.to_vec()),
            Special::ClientOutputBufferLimit => Value::Obuf(OBUF_DEFAULTS),
            Special::OomScoreAdjValues => Value::Oom(OOM_DEFAULTS),
            Special::NotifyKeyspaceEvents => Value::Notify(0),
            Special::Bind => Value::Bind(BIND_DEFAULTS.iter().map(|s| s.to_string()).collect()),
            Special::ReplicaOf => Value::ReplicaOf(None),
            Special::LatencyTrackingInfoPercentiles => Value::Percentiles(vec![50.0, 99.0, 99.9]),
            Special::Shards => Value::Num(default_shards() as i128),
        },
    }
}

/// State of one parse pass: Redis accumulates `save` lines while reading the file.
#[derive(Default)]
pub struct SetCtx {
    pub reading_file: bool,
    pub save_loaded: bool,
}

/// Outcome of a successful set, as Redis' `set()` returns 1 or 2.
pub struct Parsed {
    pub value: Value,
    pub changed: bool,
}

const WRONG_ARGS: &str = "wrong number of arguments";

/// Parses `args` (the words after the directive name) into a new value for `d`.
/// The error is Redis' reason text (`argument must be 'yes' or 'no'`).
pub fn parse(
    d: &Directive,
    cur: &Value,
    args: &[Vec<u8>],
    ctx: &mut SetCtx,
) -> Result<Parsed, String> {
    let one = || args.first().map(Vec::as_slice).unwrap_or(b"");
    let value = match d.kind {
        Kind::Bool(_) => match yes_no(one()) {
            Some(b) => Value::Bool(b),
            None => return Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Num {
            min,
            max,
            unsigned,
            fmt,
            ..
        } => {
            let v = parse_number(one(), fmt)?;
            check_bounds(v, min, max, unsigned, fmt)?;
            Value::Num(if unsigned {
                i128::from(v as u64)
            } else {
                i128::from(v)
            })
        }
        Kind::Str {
            empty_is_null,
            check,
            ..
        } => {
            let v = one();
            if let Some(check) = check {
                check(v).map_err(String::from)?;
            }
            Value::Str(if empty_is_null && v.is_empty() {
                None
            } else {
                Some(v.to_vec())
            })
        }
        Kind::Enum { values, check, .. } => {
            let v = enum_value(values, args, d.has(MULTI_ARG)).ok_or_else(|| enum_error(values))?;
            if let Some(check) = check {
                check(v).map_err(String::from)?;
            }
            Value::Enum(v)
        }
        Kind::Special(s) => parse_special(s, cur, args, ctx)?,
    };
    let changed =
        d.has(VOLATILE) || value != *cur || matches!(d.kind, Kind::Special(Special::Save));
    Ok(Parsed { value, changed })
}

fn yes_no(v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

fn parse_number(v: &[u8], fmt: NumFmt) -> Result<i64, String> {
    if matches!(fmt, NumFmt::Memory | NumFmt::MemoryPercent) {
        if let Some(m) = parse_memory(v) {
            return Ok(m as i64);
        }
    }
    if fmt == NumFmt::MemoryPercent && v.len() > 1 && v.last() == Some(&b'%') {
        if let Some(p) = parse_i64(&v[..v.len() - 1]).filter(|p| *p >= 0) {
            return Ok(-p);
        }
    }
    if fmt == NumFmt::Octal {
        if let Some(o) = parse_strtoll(v, 8) {
            return Ok(o);
        }
    }
    if fmt == NumFmt::Int {
        if let Some(i) = parse_i64(v) {
            return Ok(i);
        }
    }
    Err(match fmt {
        NumFmt::MemoryPercent => "argument must be a memory or percent value",
        NumFmt::Memory => "argument must be a memory value",
        NumFmt::Octal => "argument couldn't be parsed as an octal number",
        NumFmt::Int => "argument couldn't be parsed into an integer",
    }
    .into())
}

fn check_bounds(v: i64, min: i128, max: i128, unsigned: bool, fmt: NumFmt) -> Result<(), String> {
    if unsigned {
        let u = i128::from(v as u64);
        if u > max || u < min {
            return Err(if fmt == NumFmt::Octal {
                format!("argument must be between {min:o} and {max:o} inclusive")
            } else {
                format!("argument must be between {min} and {max} inclusive")
            });
        }
    } else if fmt == NumFmt::MemoryPercent && v < 0 {
        if i128::from(v) < min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -min
            ));
        }
    } else if i128::from(v) > max || i128::from(v) < min {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(())
}

fn enum_value(values: &[(&str, u32)], args: &[Vec<u8>], multi: bool) -> Option<u32> {
    if args.is_empty() || (!multi && args.len() != 1) {
        return None;
    }
    let mut out = 0;
    for a in args {
        let mut matched = false;
        for (name, v) in values {
            if name.as_bytes().eq_ignore_ascii_case(a) {
                out |= v;
                matched = true;
            }
        }
        if !matched {
            return None;
        }
    }
    Some(out)
}

fn enum_error(values: &[(&str, u32)]) -> String {
    let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// Redis' `configEnumGetName`: an exact match first, else the set flags in table order.
pub fn enum_name(values: &[(&str, u32)], v: u32, multi: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    let mut unmatched = v;
    for (name, val) in values {
        if *val == v {
            return (*name).to_string();
        }
        if multi && *val != 0 && *val == (unmatched & val) {
            names.push(name);
            unmatched &= !val;
        }
    }
    if unmatched != 0 || names.is_empty() {
        return "unknown".into();
    }
    names.join(" ")
}

pub const NOTIFY_KEYSPACE: u32 = 1 << 0;
pub const NOTIFY_KEYEVENT: u32 = 1 << 1;
pub const NOTIFY_GENERIC: u32 = 1 << 2;
pub const NOTIFY_STRING: u32 = 1 << 3;
pub const NOTIFY_LIST: u32 = 1 << 4;
pub const NOTIFY_SET: u32 = 1 << 5;
pub const NOTIFY_HASH: u32 = 1 << 6;
pub const NOTIFY_ZSET: u32 = 1 << 7;
pub const NOTIFY_EXPIRED: u32 = 1 << 8;
pub const NOTIFY_EVICTED: u32 = 1 << 9;
pub const NOTIFY_STREAM: u32 = 1 << 10;
pub const NOTIFY_KEY_MISS: u32 = 1 << 11;
pub const NOTIFY_MODULE: u32 = 1 << 13;
pub const NOTIFY_NEW: u32 = 1 << 14;
pub const NOTIFY_ALL: u32 = NOTIFY_GENERIC
    | NOTIFY_STRING
    | NOTIFY_LIST
    | NOTIFY_SET
    | NOTIFY_HASH
    | NOTIFY_ZSET
    | NOTIFY_EXPIRED
    | NOTIFY_EVICTED
    | NOTIFY_STREAM
    | NOTIFY_MODULE;

/// Parses `notify-keyspace-events` classes (`KEA`, `Kx`).
pub fn notify_flags(s: &[u8]) -> Option<u32> {
    let mut f = 0;
    for c in s {
        f |= match c {
            b'A' => NOTIFY_ALL,
            b'g' => NOTIFY_GENERIC,
            b'$' => NOTIFY_STRING,
            b'l' => NOTIFY_LIST,
            b's' => NOTIFY_SET,
            b'h' => NOTIFY_HASH,
            b'z' => NOTIFY_ZSET,
            b'x' => NOTIFY_EXPIRED,
            b'e' => NOTIFY_EVICTED,
            b'K' => NOTIFY_KEYSPACE,
            b'E' => NOTIFY_KEYEVENT,
            b't' => NOTIFY_STREAM,
            b'm' => NOTIFY_KEY_MISS,
            b'd' => NOTIFY_MODULE,
            b'n' => NOTIFY_NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Prints classes the way Redis does (`AKE`, `xK`).
pub fn notify_string(f: u32) -> String {
    let mut s = String::new();
    if f & NOTIFY_ALL == NOTIFY_ALL {
        s.push('A');
    } else {
        for (flag, c) in [
            (NOTIFY_GENERIC, 'g'),
            (NOTIFY_STRING, '$'),
            (NOTIFY_LIST, 'l'),
            (NOTIFY_SET, 's'),
            (NOTIFY_HASH, 'h'),
            (NOTIFY_ZSET, 'z'),
            (NOTIFY_EXPIRED, 'x'),
            (NOTIFY_EVICTED, 'e'),
            (NOTIFY_STREAM, 't'),
            (NOTIFY_MODULE, 'd'),
            (NOTIFY_NEW, 'n'),
        ] {
            if f & flag != 0 {
                s.push(c);
            }
        }
    }
    for (flag, c) in [
        (NOTIFY_KEYSPACE, 'K'),
        (NOTIFY_KEYEVENT, 'E'),
        (NOTIFY_KEY_MISS, 'm'),
    ] {
        if f & flag != 0 {
            s.push(c);
        }
    }
    s
}

/// The text of an OS error without Rust's ` (os error N)` suffix, like C `strerror`.
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = e.to_string();
            let suffix = format!(" (os error {code})");
            s.strip_suffix(&suffix).map(str::to_string).unwrap_or(s)
        }
        None => e.to_string(),
    }
}

fn parse_special(
    s: Special,
    cur: &Value,
    args: &[Vec<u8>],
    ctx: &mut SetCtx,
) -> Result<Value, String> {
    match s {
        Special::Dir => {
            let [arg] = args else {
                return Err(WRONG_ARGS.into());
            };
            let path = PathBuf::from(String::from_utf8_lossy(arg).into_owned());
            // Redis chdirs here, so a relative dir is relative to the previous one.
            let base = match cur {
                Value::Dir(p) => p.clone(),
                _ => PathBuf::from("."),
            };
            let full = if path.is_absolute() {
                path
            } else {
                base.join(path)
            };
            let canon = std::fs::canonicalize(&full).map_err(|e| strerror(&e))?;
            if !canon.is_dir() {
                return Err("Not a directory".into());
            }
            Ok(Value::Dir(canon))
        }
        Special::Save => {
            let mut args = args;
            let mut reset = false;
            if args.len() == 1 && args[0].is_empty() {
                reset = true;
                args = &[];
            }
            if args.len() % 2 == 1 {
                return Err("Invalid save parameters".into());
            }
            let mut pairs = Vec::new();
            for pair in args.chunks(2) {
                let secs = parse_strtoll(&pair[0], 10).filter(|v| *v >= 1);
                let changes = parse_strtoll(&pair[1], 10).filter(|v| *v >= 0);
                match (secs, changes) {
                    (Some(s), Some(c)) => pairs.push((s as u64, c as u64)),
                    _ => return Err("Invalid save parameters".into()),
                }
            }
            let mut out = match cur {
                Value::Save(v) if ctx.reading_file && ctx.save_loaded && !reset => v.clone(),
                _ => Vec::new(),
            };
            if ctx.reading_file {
                ctx.save_loaded = true;
            }
            out.extend(pairs);
            Ok(Value::Save(out))
        }
        Special::ClientOutputBufferLimit => {
            if !args.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut limits = match cur {
                Value::Obuf(l) => *l,
                _ => OBUF_DEFAULTS,
            };
            let mut updates = Vec::new();
            for chunk in args.chunks(4) {
                let class = match chunk[0].to_ascii_lowercase().as_slice() {
                    b"normal" => 0,
                    b"slave" | b"replica" => 1,
                    b"pubsub" => 2,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        )
                    }
                };
                let hard = parse_memory(&chunk[1]);
                let soft = parse_memory(&chunk[2]);
                let secs = parse_strtoll(&chunk[3], 10).filter(|v| *v >= 0);
                match (hard, soft, secs) {
                    (Some(hard), Some(soft), Some(secs)) => {
                        updates.push((class, ObufLimit { hard, soft, soft_seconds: secs as u64 }))
                    }
                    _ => {
                        return Err(
                            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into()
                        )
                    }
                }
            }
            for (class, l) in updates {
                limits[class] = l;
            }
            Ok(Value::Obuf(limits))
        }
        Special::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err(WRONG_ARGS.into());
            }
            let mut v = [0i32; 3];
            for (slot, a) in v.iter_mut().zip(args) {
                match parse_strtoll(a, 10).filter(|x| (-2000..=2000).contains(x)) {
                    Some(x) => *slot = x as i32,
                    None => return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    ),
                }
            }
            Ok(Value::Oom(v))
        }
        Special::NotifyKeyspaceEvents => {
            let [arg] = args else {
                return Err(WRONG_ARGS.into());
            };
            notify_flags(arg)
                .map(Value::Notify)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
        }
        Special::Bind => {
            if args.len() > BIND_MAX {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Bind(Vec::new()));
            }
            Ok(Value::Bind(
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            ))
        }
        Special::ReplicaOf => {
            let [host, port] = args else {
                return Err(WRONG_ARGS.into());
            };
            if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
                return Ok(Value::ReplicaOf(None));
            }
            match parse_strtoll(port, 10).filter(|p| (0..=65535).contains(p)) {
                Some(p) => Ok(Value::ReplicaOf(Some((
                    String::from_utf8_lossy(host).into_owned(),
                    p as u16,
                )))),
                None => Err("Invalid master port".into()),
            }
        }
        Special::LatencyTrackingInfoPercentiles => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Percentiles(Vec::new()));
            }
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let p: f64 = std::str::from_utf8(a)
                    .ok()
                    .filter(|s| !s.is_empty() && !s.starts_with(|c: char| c.is_whitespace()))
                    .and_then(|s| s.parse().ok())
                    .filter(|p: &f64| !p.is_nan())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                out.push(p);
            }
            Ok(Value::Percentiles(out))
        }
        Special::Shards => {
            let [arg] = args else {
                return Err(WRONG_ARGS.into());
            };
            let n = parse_i64(arg).ok_or("argument couldn't be parsed into an integer")?;
            if !(1..=1024).contains(&n) {
                return Err("argument must be between 1 and 1024 inclusive".into());
            }
            Ok(Value::Num(i128::from(n)))
        }
    }
}

/// `%f` then trailing zeros and dot removed (Redis' `trimDoubleString`).
fn fmt_double(v: f64) -> String {
    let s = format!("{v:.6}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn fmt_obuf(limits: &[ObufLimit; 3]) -> String {
    let parts: Vec<String> = limits
        .iter()
        .zip(OBUF_CLASSES)
        .map(|(l, c)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect();
    parts.join(" ")
}

/// The value as CONFIG GET prints it.
pub fn format(d: &Directive, v: &Value) -> String {
    match (v, &d.kind) {
        (Value::Bool(b), _) => if *b { "yes" } else { "no" }.into(),
        (Value::Num(n), Kind::Num { fmt, .. }) => match fmt {
            NumFmt::MemoryPercent if *n < 0 => format!("{}%", -n),
            NumFmt::Octal => format!("{n:o}"),
            _ => n.to_string(),
        },
        (Value::Num(n), _) => n.to_string(),
        (Value::Str(s), _) => s
            .as_deref()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default(),
        (Value::Enum(e), Kind::Enum { values, .. }) => enum_name(values, *e, d.has(MULTI_ARG)),
        (Value::Enum(e), _) => e.to_string(),
        (Value::Dir(p), _) => p.display().to_string(),
        (Value::Save(pairs), _) => {
            let parts: Vec<String> = pairs.iter().map(|(s, c)| format!("{s} {c}")).collect();
            parts.join(" ")
        }
        (Value::Obuf(l), _) => fmt_obuf(l),
        (Value::Oom(o), _) => format!("{} {} {}", o[0], o[1], o[2]),
        (Value::Notify(f), _) => notify_string(*f),
        (Value::Bind(b), _) => b.join(" "),
        (Value::ReplicaOf(r), _) => r
            .as_ref()
            .map(|(h, p)| format!("{h} {p}"))
            .unwrap_or_default(),
        (Value::Percentiles(p), _) => {
            let parts: Vec<String> = p.iter().map(|v| fmt_double(*v)).collect();
            parts.join(" ")
        }
    }
}

/// Redis' `rewriteConfigFormatMemory`: `1gb`, `64mb`, `4kb` or plain bytes.
pub fn fmt_memory(bytes: i128) -> String {
    const GB: i128 = 1 << 30;
    const MB: i128 = 1 << 20;
    const KB: i128 = 1 << 10;
    if bytes != 0 && bytes % GB == 0 {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes % KB == 0 {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

/// What CONFIG REWRITE does with one directive.
pub enum Rewrite {
    /// Lines to write, each with "force" (write even if absent from the old file).
    Lines(Vec<(String, bool)>),
    /// Write nothing, but drop the directive's old lines.
    Remove,
}

/// Redis' per-type rewrite functions: the lines for `v`, and whether each must be
/// written even when the old file does not mention the directive.
pub fn rewrite_lines(d: &Directive, v: &Value) -> Rewrite {
    let name = d.name;
    let default = default_value(d);
    let not_default = *v != default;
    let one = |line: String, force: bool| Rewrite::Lines(vec![(line, force)]);
    match (v, &d.kind) {
        (Value::Bool(b), _) => one(
            format!("{name} {}", if *b { "yes" } else { "no" }),
            not_default,
        ),
        (Value::Num(n), Kind::Num { fmt, .. }) => {
            let text = match fmt {
                NumFmt::MemoryPercent if *n < 0 => format!("{}%", -n),
                NumFmt::Memory | NumFmt::MemoryPercent => fmt_memory(*n),
                NumFmt::Octal => format!("{n:o}"),
                NumFmt::Int => n.to_string(),
            };
            one(format!("{name} {text}"), not_default)
        }
        (Value::Num(n), _) => one(format!("{name} {n}"), not_default),
        (Value::Str(None), _) => Rewrite::Remove,
        (Value::Str(Some(s)), Kind::Str { default, .. }) => {
            let force = default.is_none_or(|d| d.as_bytes() != s.as_slice());
            one(format!("{name} {}", repr(s)), force)
        }
        (Value::Str(Some(s)), _) => one(format!("{name} {}", repr(s)), true),
        (Value::Enum(e), Kind::Enum { values, .. }) => one(
            format!("{name} {}", enum_name(values, *e, d.has(MULTI_ARG))),
            not_default,
        ),
        (Value::Enum(e), _) => one(format!("{name} {e}"), not_default),
        (Value::Dir(p), _) => one(
            format!("{name} {}", repr(p.to_string_lossy().as_bytes())),
            true,
        ),
        (Value::Save(pairs), _) => {
            if pairs.is_empty() {
                one(format!("{name} \"\""), true)
            } else {
                Rewrite::Lines(
                    pairs
                        .iter()
                        .map(|(s, c)| (format!("{name} {s} {c}"), true))
                        .collect(),
                )
            }
        }
        (Value::Obuf(limits), _) => Rewrite::Lines(
            limits
                .iter()
                .zip(OBUF_DEFAULTS)
                .zip(["normal", "replica", "pubsub"])
                .map(|((l, def), class)| {
                    let line = format!(
                        "{name} {class} {} {} {}",
                        fmt_memory(i128::from(l.hard)),
                        fmt_memory(i128::from(l.soft)),
                        l.soft_seconds
                    );
                    (line, *l != def)
                })
                .collect(),
        ),
        (Value::Oom(o), _) => one(format!("{name} {} {} {}", o[0], o[1], o[2]), not_default),
        (Value::Notify(f), _) => one(
            format!("{name} {}", repr(notify_string(*f).as_bytes())),
            *f != 0,
        ),
        (Value::Bind(b), _) => {
            if !not_default {
                Rewrite::Remove
            } else if b.is_empty() {
                one(format!("{name} \"\""), true)
            } else {
                one(format!("{name} {}", b.join(" ")), true)
            }
        }
        (Value::ReplicaOf(None), _) => Rewrite::Remove,
        (Value::ReplicaOf(Some((h, p))), _) => one(format!("{name} {h} {p}"), true),
        (Value::Percentiles(p), _) => {
            if p.is_empty() {
                one(format!("{name} \"\""), true)
            } else {
                let parts: Vec<String> = p.iter().map(|v| fmt_double(*v)).collect();
                one(format!("{name} {}", parts.join(" ")), true)
            }
        }
    }
}

/// Absolute form of a path without touching the filesystem (Redis' `getAbsolutePath`).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
