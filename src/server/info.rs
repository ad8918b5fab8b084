//! INFO text: the figures of every shard gathered into one snapshot, rendered section by
//! section in Redis 7.0's order and field names (clients and exporters parse them).

use crate::config::Config;
use crate::shard::{CmdStat, Shard, ShardStats, Shared};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// One shard's share of the INFO figures (plain data, so it can travel between shards).
#[derive(Default, Clone)]
pub struct ShardSnapshot {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub total_commands: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    pub commands: Vec<(&'static str, CmdStat)>,
    pub errors: Vec<(String, u64)>,
    /// Per db: (keys, expires, avg_ttl ms).
    pub dbs: Vec<(usize, usize, i64)>,
    pub dataset_bytes: usize,
    /// Rates per second: commands, input bytes, output bytes.
    pub inst_ops: f64,
    pub inst_input: f64,
    pub inst_output: f64,
}

impl ShardSnapshot {
    /// Takes this shard's figures.
    pub fn of(shard: &Shard) -> ShardSnapshot {
        let d = shard.data.borrow();
        let now = crate::keyspace::now_ms();
        let s: &ShardStats = &d.stats;
        ShardSnapshot {
            keyspace_hits: s.keyspace_hits,
            keyspace_misses: s.keyspace_misses,
            expired_keys: s.expired_keys,
            total_commands: s.total_commands,
            net_input_bytes: s.net_input_bytes,
            net_output_bytes: s.net_output_bytes,
            total_error_replies: s.total_error_replies,
            commands: s.commands.iter().map(|(k, v)| (*k, *v)).collect(),
            errors: s.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            dbs: d
                .dbs
                .iter()
                .map(|db| (db.len(), db.expires_len(), db.avg_ttl(now)))
                .collect(),
            dataset_bytes: d.dbs.iter().map(|db| db.approx_bytes()).sum(),
            inst_ops: s.inst_ops.rate(),
            inst_input: s.inst_input.rate(),
            inst_output: s.inst_output.rate(),
        }
    }

    /// Adds another shard's figures into this one.
    pub fn merge(&mut self, o: ShardSnapshot) {
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        self.expired_keys += o.expired_keys;
        self.total_commands += o.total_commands;
        self.net_input_bytes += o.net_input_bytes;
        self.net_output_bytes += o.net_output_bytes;
        self.total_error_replies += o.total_error_replies;
        self.dataset_bytes += o.dataset_bytes;
        self.inst_ops += o.inst_ops;
        self.inst_input += o.inst_input;
        self.inst_output += o.inst_output;
        for (name, st) in o.commands {
            match self.commands.iter_mut().find(|(n, _)| *n == name) {
                Some((_, mine)) => {
                    mine.calls += st.calls;
                    mine.usec += st.usec;
                    mine.rejected += st.rejected;
                    mine.failed += st.failed;
                }
                None => self.commands.push((name, st)),
            }
        }
        for (name, n) in o.errors {
            match self.errors.iter_mut().find(|(e, _)| *e == name) {
                Some((_, mine)) => *mine += n,
                None => self.errors.push((name, n)),
            }
        }
        if self.dbs.len() < o.dbs.len() {
            self.dbs.resize(o.dbs.len(), (0, 0, 0));
        }
        for (mine, (k, e, ttl)) in self.dbs.iter_mut().zip(o.dbs) {
            // avg_ttl is an average over keys with a TTL: weigh each shard by its expires.
            let total = mine.1 + e;
            if total > 0 {
                mine.2 = ((mine.2 as i128 * mine.1 as i128 + ttl as i128 * e as i128)
                    / total as i128) as i64;
            }
            mine.0 += k;
            mine.1 = total;
        }
    }
}

/// The sections Redis 7.0 prints for INFO / INFO default.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// `all` adds these; `everything` too (there are no module sections to add).
const EXTRA: &[&str] = &["commandstats", "latencystats"];

/// Which sections to render, from INFO's arguments (lower-cased, deduplicated, in Redis's
/// order whatever order they were asked in).
pub fn select_sections(args: &[&[u8]]) -> Vec<&'static str> {
    let mut want: Vec<&'static str> = Vec::new();
    if args.is_empty() {
        return DEFAULT.to_vec();
    }
    for a in args {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "default" => want.extend_from_slice(DEFAULT),
            "all" | "everything" => {
                want.extend_from_slice(DEFAULT);
                want.extend_from_slice(EXTRA);
            }
            other => {
                if let Some(s) = DEFAULT.iter().chain(EXTRA).find(|s| **s == other) {
                    want.push(s);
                }
            }
        }
    }
    DEFAULT
        .iter()
        .chain(EXTRA)
        .copied()
        .filter(|s| want.contains(s))
        .collect()
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    let n = n as f64;
    const UNITS: &[(f64, &str)] = &[
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
    ];
    if n < 1024.0 {
        return format!("{}B", n as u64);
    }
    let mut out = String::new();
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        if i + 1 == UNITS.len() || n < div * 1024.0 {
            out = format!("{:.2}{unit}", n / div);
            break;
        }
    }
    out
}

/// Resident set size of the process in bytes (from /proc/self/statm), 0 if unknown.
pub fn rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(4096) as u64
}

fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn uname() -> String {
    // SAFETY: uname fills the zeroed struct we own; its fields are NUL-terminated.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let f = |b: &[libc::c_char]| {
        let bytes: Vec<u8> = b
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
}

/// Peak of the RSS seen by INFO (Redis tracks it on every cron; sampling it here is enough
/// for a figure that only ever grows).
static PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The INFO text for `sections` from the merged snapshot of every shard.
pub fn render(sections: &[&str], snap: &ShardSnapshot, shared: &Shared, cfg: &Config) -> String {
    let mut out = String::with_capacity(4096);
    for (i, sec) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        render_section(&mut out, sec, snap, shared, cfg);
    }
    out
}

macro_rules! field {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn render_section(o: &mut String, sec: &str, snap: &ShardSnapshot, sh: &Shared, cfg: &Config) {
    let now_ms = crate::keyspace::now_ms();
    match sec {
        "server" => {
            o.push_str("# Server\r\n");
            let uptime = sh.started.elapsed().as_secs();
            field!(o, "redis_version:{}", crate::REDIS_VERSION);
            field!(o, "redis_git_sha1:00000000");
            field!(o, "redis_git_dirty:0");
            field!(o, "redis_build_id:0");
            field!(o, "redis_mode:standalone");
            field!(o, "os:{}", uname());
            field!(o, "arch_bits:{}", usize::BITS);
            field!(o, "monotonic_clock:POSIX clock_gettime");
            field!(o, "multiplexing_api:io_uring");
            field!(o, "atomicvar_api:c11-builtin");
            field!(o, "gcc_version:0.0.0");
            field!(o, "process_id:{}", std::process::id());
            field!(o, "process_supervised:no");
            field!(o, "run_id:{}", sh.run_id);
            field!(o, "tcp_port:{}", sh.port.load(Ordering::Relaxed));
            field!(o, "server_time_usec:{}", now_ms * 1000);
            field!(o, "uptime_in_seconds:{uptime}");
            field!(o, "uptime_in_days:{}", uptime / 86400);
            field!(o, "hz:{}", cfg.hz);
            field!(o, "configured_hz:{}", cfg.hz);
            field!(o, "lru_clock:{}", crate::keyspace::lru_clock() & 0xFF_FFFF);
            field!(o, "executable:{}", sh.executable);
            let cf = cfg
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            field!(o, "config_file:{cf}");
            field!(o, "io_threads_active:0");
            field!(o, "ringkv_version:{}", crate::RINGKV_VERSION);
            field!(o, "shards:{}", sh.nshards);
        }
        "clients" => {
            o.push_str("# Clients\r\n");
            field!(
                o,
                "connected_clients:{}",
                sh.connected_clients.load(Ordering::Relaxed)
            );
            field!(o, "cluster_connections:0");
            field!(o, "maxclients:{}", cfg.maxclients);
            field!(o, "client_recent_max_input_buffer:0");
            field!(o, "client_recent_max_output_buffer:0");
            field!(
                o,
                "blocked_clients:{}",
                crate::shard::blocking::blocked_clients()
            );
            field!(o, "tracking_clients:{}", crate::net::tracking::counts().0);
            field!(o, "clients_in_timeout_table:0");
        }
        "memory" => {
            o.push_str("# Memory\r\n");
            let rss = rss_bytes();
            // The allocator's count when the counting allocator is installed (the server
            // binary), else the RSS or the dataset estimate.
            let (used, peak, startup) = if crate::alloc::installed() {
                let used = crate::alloc::used_memory() as u64;
                let peak = (crate::alloc::peak_memory() as u64).max(used);
                (used, peak, crate::alloc::startup_memory() as u64)
            } else {
                let used = rss.max(snap.dataset_bytes as u64);
                (used, PEAK.fetch_max(used, Ordering::Relaxed).max(used), 0)
            };
            let dataset = if startup > 0 {
                used.saturating_sub(startup)
            } else {
                snap.dataset_bytes as u64
            };
            field!(o, "used_memory:{used}");
            field!(o, "used_memory_human:{}", bytes_to_human(used));
            field!(o, "used_memory_rss:{rss}");
            field!(o, "used_memory_rss_human:{}", bytes_to_human(rss));
            field!(o, "used_memory_peak:{peak}");
            field!(o, "used_memory_peak_human:{}", bytes_to_human(peak));
            field!(
                o,
                "used_memory_peak_perc:{:.2}%",
                used as f64 * 100.0 / peak.max(1) as f64
            );
            field!(o, "used_memory_startup:{startup}");
            field!(o, "used_memory_dataset:{dataset}");
            field!(o, "number_of_cached_scripts:0");
            field!(o, "maxmemory:{}", cfg.maxmemory);
            field!(o, "maxmemory_human:{}", bytes_to_human(cfg.maxmemory));
            field!(o, "maxmemory_policy:{}", cfg.maxmemory_policy);
            field!(
                o,
                "mem_fragmentation_ratio:{:.2}",
                rss as f64 / used.max(1) as f64
            );
            field!(o, "mem_allocator:libc");
            field!(o, "lazyfree_pending_objects:0");
        }
        "persistence" => {
            o.push_str("# Persistence\r\n");
            field!(o, "loading:{}", sh.persistence.loading.active() as u8);
            field!(o, "async_loading:0");
            // No fork, so no copy-on-write to report.
            field!(o, "current_cow_peak:0");
            field!(o, "current_cow_size:0");
            field!(o, "current_cow_size_age:0");
            field!(o, "current_fork_perc:0.00");
            field!(o, "current_save_keys_processed:0");
            field!(o, "current_save_keys_total:0");
            field!(o, "rdb_changes_since_last_save:{}", sh.dirty.since_save());
            let ps = &sh.persistence;
            field!(
                o,
                "rdb_bgsave_in_progress:{}",
                ps.bgsave_in_progress.load(Ordering::Relaxed) as u8
            );
            field!(
                o,
                "rdb_last_save_time:{}",
                sh.lastsave.load(Ordering::Relaxed)
            );
            let ok = ps.last_bgsave_ok.load(Ordering::Relaxed);
            field!(
                o,
                "rdb_last_bgsave_status:{}",
                if ok { "ok" } else { "err" }
            );
            field!(
                o,
                "rdb_last_bgsave_time_sec:{}",
                ps.last_bgsave_time_sec.load(Ordering::Relaxed)
            );
            field!(
                o,
                "rdb_current_bgsave_time_sec:{}",
                ps.current_bgsave_secs()
            );
            field!(o, "rdb_saves:{}", ps.rdb_saves.load(Ordering::Relaxed));
            field!(o, "rdb_last_cow_size:0");
            field!(
                o,
                "rdb_last_load_keys_expired:{}",
                ps.last_load_keys_expired.load(Ordering::Relaxed)
            );
            field!(
                o,
                "rdb_last_load_keys_loaded:{}",
                ps.last_load_keys_loaded.load(Ordering::Relaxed)
            );
            sh.aof.info(o);
            field!(o, "module_fork_in_progress:0");
            field!(o, "module_fork_last_cow_size:0");
            sh.aof.info_tail(o);
            sh.persistence.loading.info(o);
        }
        "stats" => {
            o.push_str("# Stats\r\n");
            field!(
                o,
                "total_connections_received:{}",
                sh.total_connections.load(Ordering::Relaxed)
            );
            field!(o, "total_commands_processed:{}", snap.total_commands);
            field!(o, "instantaneous_ops_per_sec:{}", snap.inst_ops as u64);
            field!(o, "total_net_input_bytes:{}", snap.net_input_bytes);
            field!(o, "total_net_output_bytes:{}", snap.net_output_bytes);
            field!(o, "total_net_repl_input_bytes:0");
            field!(o, "total_net_repl_output_bytes:0");
            field!(
                o,
                "instantaneous_input_kbps:{:.2}",
                snap.inst_input / 1024.0
            );
            field!(
                o,
                "instantaneous_output_kbps:{:.2}",
                snap.inst_output / 1024.0
            );
            field!(o, "instantaneous_input_repl_kbps:0.00");
            field!(o, "instantaneous_output_repl_kbps:0.00");
            field!(
                o,
                "rejected_connections:{}",
                sh.rejected_connections.load(Ordering::Relaxed)
            );
            field!(o, "sync_full:{}", sh.repl.sync_full.load(Ordering::Relaxed));
            field!(
                o,
                "sync_partial_ok:{}",
                sh.repl.sync_partial_ok.load(Ordering::Relaxed)
            );
            field!(
                o,
                "sync_partial_err:{}",
                sh.repl.sync_partial_err.load(Ordering::Relaxed)
            );
            field!(o, "expired_keys:{}", snap.expired_keys);
            field!(o, "expired_stale_perc:0.00");
            field!(o, "expired_time_cap_reached_count:0");
            field!(o, "evicted_keys:{}", crate::keyspace::evict::evicted_keys());
            field!(o, "evicted_clients:0");
            field!(o, "keyspace_hits:{}", snap.keyspace_hits);
            field!(o, "keyspace_misses:{}", snap.keyspace_misses);
            field!(o, "pubsub_channels:0");
            field!(o, "pubsub_patterns:0");
            field!(o, "pubsubshard_channels:0");
            field!(o, "latest_fork_usec:0");
            field!(o, "total_forks:0");
            let (_, keys, items, prefixes) = crate::net::tracking::counts();
            field!(o, "tracking_total_keys:{keys}");
            field!(o, "tracking_total_items:{items}");
            field!(o, "tracking_total_prefixes:{prefixes}");
            field!(o, "unexpected_error_replies:0");
            field!(o, "total_error_replies:{}", snap.total_error_replies);
        }
        "replication" => {
            o.push_str("# Replication\r\n");
            crate::replication::report::info(sh, cfg, crate::keyspace::now_ms(), o);
        }
        "cpu" => {
            o.push_str("# CPU\r\n");
            let (sys, user) = rusage(libc::RUSAGE_SELF);
            let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
            let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
            field!(o, "used_cpu_sys:{sys:.6}");
            field!(o, "used_cpu_user:{user:.6}");
            field!(o, "used_cpu_sys_children:{csys:.6}");
            field!(o, "used_cpu_user_children:{cuser:.6}");
            field!(o, "used_cpu_sys_main_thread:{tsys:.6}");
            field!(o, "used_cpu_user_main_thread:{tuser:.6}");
        }
        "modules" => o.push_str("# Modules\r\n"),
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            let mut errs = snap.errors.clone();
            errs.sort();
            for (e, n) in errs {
                field!(o, "errorstat_{e}:count={n}");
            }
        }
        "cluster" => {
            o.push_str("# Cluster\r\n");
            field!(o, "cluster_enabled:0");
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for (i, (keys, expires, ttl)) in snap.dbs.iter().enumerate() {
                if *keys > 0 {
                    field!(o, "db{i}:keys={keys},expires={expires},avg_ttl={ttl}");
                }
            }
        }
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            let mut cmds = snap.commands.clone();
            cmds.sort_by_key(|(n, _)| *n);
            for (name, st) in cmds {
                if st.calls == 0 && st.rejected == 0 && st.failed == 0 {
                    continue;
                }
                field!(
                    o,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                    st.calls,
                    st.usec,
                    if st.calls == 0 { 0.0 } else { st.usec as f64 / st.calls as f64 },
                    st.rejected,
                    st.failed
                );
            }
        }
        "latencystats" => {
            o.push_str("# Latencystats\r\n");
            if !cfg.latency_tracking {
                return;
            }
            let pcts: Vec<f64> = cfg
                .get_one("latency-tracking-info-percentiles")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            let mut cmds = snap.commands.clone();
            cmds.sort_by_key(|(n, _)| *n);
            for (name, st) in cmds {
                if st.calls == 0 {
                    continue;
                }
                let line: Vec<String> = pcts
                    .iter()
                    .map(|p| format!("p{p}={:.3}", percentile_usec(&st.hist, *p)))
                    .collect();
                field!(o, "latency_percentiles_usec_{name}:{}", line.join(","));
            }
        }
        _ => {}
    }
}

/// The latency (µs) under which `pct` percent of the calls counted in `hist` finished: the
/// upper bound of the power-of-two bucket that reaches the percentile (Redis reads it from an
/// HDR histogram with finer buckets).
fn percentile_usec(hist: &[u32], pct: f64) -> f64 {
    let total: u64 = hist.iter().map(|&n| u64::from(n)).sum();
    if total == 0 {
        return 0.0;
    }
    let want = ((pct / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (b, &n) in hist.iter().enumerate() {
        seen += u64::from(n);
        if seen >= want {
            return if b == 0 { 1.0 } else { (1u64 << b) as f64 };
        }
    }
    (1u64 << (hist.len() - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_bucket_that_reaches_them() {
        let mut h = [0u32; crate::shard::LATENCY_BUCKETS];
        h[3] = 98; // 4..7 µs
        h[10] = 2; // 512..1023 µs
        assert_eq!(percentile_usec(&h, 50.0), 8.0);
        assert_eq!(percentile_usec(&h, 98.0), 8.0);
        assert_eq!(percentile_usec(&h, 99.0), 1024.0);
        assert_eq!(percentile_usec(&h, 100.0), 1024.0);
        assert_eq!(percentile_usec(&[0; 4], 50.0), 0.0);
    }

    #[test]
    fn sections_follow_redis_order_and_keywords() {
        assert_eq!(select_sections(&[]), DEFAULT.to_vec());
        assert_eq!(
            select_sections(&[b"KEYSPACE", b"server"]),
            vec!["server", "keyspace"]
        );
        let all = select_sections(&[b"all"]);
        assert!(all.contains(&"commandstats") && all.contains(&"latencystats"));
        assert!(select_sections(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(13535120), "12.91M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
    }

    #[test]
    fn merge_sums_counters_and_weighs_avg_ttl() {
        let mut a = ShardSnapshot {
            total_commands: 3,
            dbs: vec![(2, 1, 1000)],
            errors: vec![("ERR".into(), 1)],
            ..Default::default()
        };
        let b = ShardSnapshot {
            total_commands: 4,
            dbs: vec![(5, 3, 3000)],
            errors: vec![("ERR".into(), 2), ("WRONGTYPE".into(), 1)],
            ..Default::default()
        };
        a.merge(b);
        assert_eq!(a.total_commands, 7);
        assert_eq!(a.dbs, vec![(7, 4, 2500)]);
        assert_eq!(a.errors.len(), 2);
        assert_eq!(a.errors[0], ("ERR".into(), 3));
    }
}
