//! `sentinel ...` directives (`sentinelHandleConfiguration`) and the state block Sentinel
//! writes back into its config file (`rewriteConfigSentinelOption`).

use super::{Kind, Sentinel};
use crate::config::ConfigError;
use crate::config::SentinelLine;

/// Directives applied before `monitor`, so their position in the file does not matter.
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

fn atoi(b: &[u8]) -> i64 {
    // C atoi: leading whitespace, optional sign, digits, stops at the first non-digit.
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -v
    } else {
        v
    }
}

fn strtoull(b: &[u8]) -> u64 {
    atoi(b).max(0) as u64
}

fn yesno(b: &[u8]) -> Option<bool> {
    let s = String::from_utf8_lossy(b).to_ascii_lowercase();
    match s.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

pub fn is_executable(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access() reads a valid NUL-terminated path and has no other effect.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Whether `host` is acceptable as an instance address (an IP, unless resolve-hostnames).
pub fn valid_host(host: &str, resolve: bool) -> bool {
    use std::net::ToSocketAddrs;
    host.parse::<std::net::IpAddr>().is_ok()
        || (resolve
            && !host.is_empty()
            && (host, 0)
                .to_socket_addrs()
                .is_ok_and(|mut a| a.next().is_some()))
}

/// Applies every `sentinel` line to `s` in Redis's three passes.
pub fn apply(s: &mut Sentinel, lines: &[SentinelLine]) -> Result<(), ConfigError> {
    let name = |l: &SentinelLine| String::from_utf8_lossy(&l.args[0]).to_ascii_lowercase();
    let passes: [&dyn Fn(&str) -> bool; 3] =
        [&|n| PRE_MONITOR.contains(&n), &|n| n == "monitor", &|n| {
            !PRE_MONITOR.contains(&n) && n != "monitor"
        }];
    for pass in passes {
        for l in lines
            .iter()
            .filter(|l| !l.args.is_empty() && pass(&name(l)))
        {
            if let Err(reason) = handle(s, &l.args) {
                return Err(ConfigError::at(l.linenum, l.line.as_bytes(), reason));
            }
        }
    }
    Ok(())
}

/// One directive; the error is Redis's text.
pub fn handle(s: &mut Sentinel, argv: &[Vec<u8>]) -> Result<(), &'static str> {
    let argc = argv.len();
    let arg = |i: usize| String::from_utf8_lossy(&argv[i]).into_owned();
    let name = arg(0).to_ascii_lowercase();
    let master = |s: &Sentinel| -> Result<usize, &'static str> {
        s.master_by_name(&arg(1))
            .ok_or("No such master with specified name.")
    };
    match (name.as_str(), argc) {
        ("monitor", 5) => {
            let quorum = atoi(&argv[4]);
            if quorum <= 0 {
                return Err("Quorum must be 1 or greater.");
            }
            if s.master_by_name(&arg(1)).is_some() {
                return Err("Duplicate master name.");
            }
            let port = atoi(&argv[3]);
            if !(0..=65535).contains(&port) {
                return Err("Invalid port number.");
            }
            if !valid_host(&arg(2), s.resolve_hostnames) {
                return Err("Can't resolve instance hostname.");
            }
            s.add_master(&arg(1), &arg(2), port as u16, quorum as u32);
        }
        ("down-after-milliseconds", 3) => {
            let mi = master(s)?;
            let v = atoi(&argv[2]);
            s.masters[mi].inst.down_after = v;
            if v <= 0 {
                return Err("negative or zero time parameter.");
            }
            propagate_down_after(s, mi);
        }
        ("failover-timeout", 3) => {
            let mi = master(s)?;
            let v = atoi(&argv[2]);
            s.masters[mi].failover_timeout = v;
            if v <= 0 {
                return Err("negative or zero time parameter.");
            }
        }
        ("parallel-syncs", 3) => {
            let mi = master(s)?;
            s.masters[mi].parallel_syncs = atoi(&argv[2]);
        }
        ("notification-script", 3) => {
            let mi = master(s)?;
            if !is_executable(&arg(2)) {
                return Err("Notification script seems non existing or non executable.");
            }
            s.masters[mi].notification_script = Some(arg(2));
        }
        ("client-reconfig-script", 3) => {
            let mi = master(s)?;
            if !is_executable(&arg(2)) {
                return Err("Client reconfiguration script seems non existing or non executable.");
            }
            s.masters[mi].client_reconfig_script = Some(arg(2));
        }
        ("auth-pass", 3) => {
            let mi = master(s)?;
            s.masters[mi].auth_pass = Some(arg(2));
        }
        ("auth-user", 3) => {
            let mi = master(s)?;
            s.masters[mi].auth_user = Some(arg(2));
        }
        ("current-epoch", 2) => {
            let e = strtoull(&argv[1]);
            if e > s.current_epoch {
                s.current_epoch = e;
            }
        }
        ("myid", 2) => {
            if argv[1].len() != 40 {
                return Err("Malformed Sentinel id in myid option.");
            }
            s.myid = arg(1);
        }
        ("config-epoch", 3) => {
            let mi = master(s)?;
            let e = strtoull(&argv[2]);
            s.masters[mi].config_epoch = e;
            if e > s.current_epoch {
                s.current_epoch = e;
            }
        }
        ("leader-epoch", 3) => {
            let mi = master(s)?;
            s.masters[mi].leader_epoch = strtoull(&argv[2]);
        }
        ("known-slave" | "known-replica", 4) => {
            let mi = master(s)?;
            let port = atoi(&argv[3]);
            if !(0..=65535).contains(&port) {
                return Err("Invalid port number.");
            }
            let (ip, port) = (arg(2), port as u16);
            if s.masters[mi].replicas.iter().any(|r| r.is_at(&ip, port)) {
                return Err("Duplicate hostname and port for replica.");
            }
            if !valid_host(&ip, s.resolve_hostnames) {
                return Err("Can't resolve instance hostname.");
            }
            s.add_replica(mi, &ip, port);
        }
        ("known-sentinel", 4) => {}
        ("known-sentinel", 5) => {
            let mi = master(s)?;
            let port = atoi(&argv[3]);
            if !(0..=65535).contains(&port) {
                return Err("Invalid port number.");
            }
            let (ip, port, runid) = (arg(2), port as u16, arg(4));
            if s.masters[mi].sentinels.iter().any(|r| r.is_at(&ip, port)) {
                return Err("A Sentinel with the same hostname and port already exists.");
            }
            s.add_sentinel(mi, &ip, port, &runid);
        }
        ("rename-command", 4) => {
            let mi = master(s)?;
            let (old, new) = (arg(2), arg(3));
            let m = &mut s.masters[mi];
            if m.renamed.iter().any(|(o, _)| o.eq_ignore_ascii_case(&old)) {
                return Err("Same command renamed multiple times with rename-command.");
            }
            m.renamed.push((old, new));
        }
        ("announce-ip", 2) => {
            if !argv[1].is_empty() {
                s.announce_ip = Some(arg(1));
            }
        }
        ("announce-port", 2) => s.announce_port = atoi(&argv[1]).clamp(0, 65535) as u16,
        ("deny-scripts-reconfig", 2) => {
            s.deny_scripts_reconfig = yesno(&argv[1])
                .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?;
        }
        ("sentinel-user", 2) => {
            if !argv[1].is_empty() {
                s.sentinel_user = Some(arg(1));
            }
        }
        ("sentinel-pass", 2) => {
            if !argv[1].is_empty() {
                s.sentinel_pass = Some(arg(1));
            }
        }
        ("resolve-hostnames", 2) => {
            s.resolve_hostnames = yesno(&argv[1])
                .ok_or("Please specify yes or no for the resolve-hostnames option.")?;
        }
        ("announce-hostnames", 2) => {
            s.announce_hostnames = yesno(&argv[1])
                .ok_or("Please specify yes or no for the announce-hostnames option.")?;
        }
        ("master-reboot-down-after-period", 3) => {
            let mi = master(s)?;
            let v = atoi(&argv[2]);
            s.masters[mi].reboot_down_after = v;
            if v < 0 {
                return Err("negative time parameter.");
            }
        }
        _ => return Err("Unrecognized sentinel configuration statement."),
    }
    Ok(())
}

/// A master's down-after also applies to its replicas and sentinels.
pub fn propagate_down_after(s: &mut Sentinel, mi: usize) {
    let m = &mut s.masters[mi];
    let d = m.inst.down_after;
    for r in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
        r.down_after = d;
    }
}

fn quote(s: &str) -> String {
    // Redis writes strings with sdscatrepr when they need quoting; plain tokens stay bare.
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\')
    {
        s.to_string()
    } else {
        let mut out = String::from("\"");
        for c in s.bytes() {
            match c {
                b'\\' => out.push_str("\\\\"),
                b'"' => out.push_str("\\\""),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
                c => out.push_str(&format!("\\x{c:02x}")),
            }
        }
        out.push('"');
        out
    }
}

/// The `sentinel ...` lines of the current state, grouped by option key (`sentinel <word>`)
/// in the order Redis writes them.
pub fn state_lines(s: &Sentinel) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    // Users come before the sentinel lines, as in Redis's rewrite; none with an ACL file
    // (old user lines are then dropped).
    out.push(("user".into(), s.user_lines.clone()));
    let mut add = |key: &str, line: String| {
        let key = format!("sentinel {key}");
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(line),
            None => out.push((key, vec![line])),
        }
    };
    add("myid", format!("sentinel myid {}", s.myid));
    if !s.deny_scripts_reconfig {
        add(
            "deny-scripts-reconfig",
            "sentinel deny-scripts-reconfig no".into(),
        );
    }
    if s.resolve_hostnames {
        add("resolve-hostnames", "sentinel resolve-hostnames yes".into());
    }
    if s.announce_hostnames {
        add(
            "announce-hostnames",
            "sentinel announce-hostnames yes".into(),
        );
    }
    for m in &s.masters {
        let name = &m.inst.name;
        let (ip, port) = m.current_addr();
        add(
            "monitor",
            format!("sentinel monitor {name} {ip} {port} {}", m.quorum),
        );
        if m.inst.down_after != s.timings.default_down_after {
            add(
                "down-after-milliseconds",
                format!(
                    "sentinel down-after-milliseconds {name} {}",
                    m.inst.down_after
                ),
            );
        }
        if m.failover_timeout != s.timings.default_failover_timeout {
            add(
                "failover-timeout",
                format!("sentinel failover-timeout {name} {}", m.failover_timeout),
            );
        }
        if m.parallel_syncs != 1 {
            add(
                "parallel-syncs",
                format!("sentinel parallel-syncs {name} {}", m.parallel_syncs),
            );
        }
        if let Some(p) = &m.notification_script {
            add(
                "notification-script",
                format!("sentinel notification-script {name} {}", quote(p)),
            );
        }
        if let Some(p) = &m.client_reconfig_script {
            add(
                "client-reconfig-script",
                format!("sentinel client-reconfig-script {name} {}", quote(p)),
            );
        }
        if let Some(p) = &m.auth_pass {
            add(
                "auth-pass",
                format!("sentinel auth-pass {name} {}", quote(p)),
            );
        }
        if let Some(u) = &m.auth_user {
            add(
                "auth-user",
                format!("sentinel auth-user {name} {}", quote(u)),
            );
        }
        if m.reboot_down_after != 0 {
            add(
                "master-reboot-down-after-period",
                format!(
                    "sentinel master-reboot-down-after-period {name} {}",
                    m.reboot_down_after
                ),
            );
        }
        add(
            "config-epoch",
            format!("sentinel config-epoch {name} {}", m.config_epoch),
        );
        add(
            "leader-epoch",
            format!("sentinel leader-epoch {name} {}", m.leader_epoch),
        );
        for r in &m.replicas {
            // The promoted replica is the master now: its slot goes to the old address.
            let (rip, rport) = if r.addr() == (ip.clone(), port) {
                m.inst.addr()
            } else {
                r.addr()
            };
            if rip == ip && rport == port {
                continue;
            }
            add(
                "known-replica",
                format!("sentinel known-replica {name} {rip} {rport}"),
            );
        }
        for x in m.sentinels.iter().filter(|x| x.kind == Kind::Sentinel) {
            if let Some(runid) = &x.runid {
                add(
                    "known-sentinel",
                    format!(
                        "sentinel known-sentinel {name} {} {} {runid}",
                        x.shown_ip(),
                        x.port
                    ),
                );
            }
        }
        for (o, n) in &m.renamed {
            add(
                "rename-command",
                format!("sentinel rename-command {name} {o} {n}"),
            );
        }
    }
    if let Some(ip) = &s.announce_ip {
        add("announce-ip", format!("sentinel announce-ip {}", quote(ip)));
    }
    if s.announce_port != 0 {
        add(
            "announce-port",
            format!("sentinel announce-port {}", s.announce_port),
        );
    }
    if let Some(u) = &s.sentinel_user {
        add(
            "sentinel-user",
            format!("sentinel sentinel-user {}", quote(u)),
        );
    }
    if let Some(p) = &s.sentinel_pass {
        add(
            "sentinel-pass",
            format!("sentinel sentinel-pass {}", quote(p)),
        );
    }
    add(
        "current-epoch",
        format!("sentinel current-epoch {}", s.current_epoch),
    );
    // Keys that may have had lines before and have none now must still be listed so the
    // rewrite removes the stale lines.
    for key in [
        "known-replica",
        "known-slave",
        "known-sentinel",
        "down-after-milliseconds",
        "failover-timeout",
        "parallel-syncs",
        "notification-script",
        "client-reconfig-script",
        "auth-pass",
        "auth-user",
        "master-reboot-down-after-period",
        "rename-command",
        "announce-ip",
        "announce-port",
        "sentinel-user",
        "sentinel-pass",
        "deny-scripts-reconfig",
        "resolve-hostnames",
        "announce-hostnames",
        "config-epoch",
        "leader-epoch",
        "monitor",
    ] {
        let key = format!("sentinel {key}");
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, Vec::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel() -> Sentinel {
        Sentinel::new(crate::config::Config::default())
    }

    fn lines(text: &str) -> Vec<SentinelLine> {
        text.lines()
            .enumerate()
            .map(|(i, l)| SentinelLine {
                linenum: i + 1,
                line: l.to_string(),
                args: l
                    .split_whitespace()
                    .skip(1)
                    .map(|w| w.as_bytes().to_vec())
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn order_in_file_does_not_matter_and_state_round_trips() {
        let mut s = sentinel();
        let text = "sentinel known-replica m 127.0.0.1 7001\n\
                    sentinel down-after-milliseconds m 1000\n\
                    sentinel myid 0123456789012345678901234567890123456789\n\
                    sentinel monitor m 127.0.0.1 7000 2\n\
                    sentinel config-epoch m 3\n\
                    sentinel leader-epoch m 4\n\
                    sentinel known-sentinel m 127.0.0.1 26380 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\
                    sentinel current-epoch 5";
        apply(&mut s, &lines(text)).unwrap();
        assert_eq!(s.myid, "0123456789012345678901234567890123456789");
        assert_eq!(s.current_epoch, 5);
        let m = &s.masters[0];
        assert_eq!((m.quorum, m.config_epoch, m.leader_epoch), (2, 3, 4));
        assert_eq!(m.replicas[0].down_after, 1000);
        assert_eq!(m.sentinels[0].port, 26380);
        let st = state_lines(&s);
        let get = |k: &str| {
            st.iter()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            get("sentinel monitor"),
            vec!["sentinel monitor m 127.0.0.1 7000 2"]
        );
        assert_eq!(
            get("sentinel known-replica"),
            vec!["sentinel known-replica m 127.0.0.1 7001"]
        );
        assert_eq!(
            get("sentinel current-epoch"),
            vec!["sentinel current-epoch 5"]
        );
        assert_eq!(get("sentinel failover-timeout"), Vec::<String>::new());
    }

    #[test]
    fn errors_are_redis_texts() {
        let cases = [
            (
                "sentinel monitor m 127.0.0.1 7000 0",
                "Quorum must be 1 or greater.",
            ),
            (
                "sentinel down-after-milliseconds x 10",
                "No such master with specified name.",
            ),
            ("sentinel myid abc", "Malformed Sentinel id in myid option."),
            (
                "sentinel bogus 1",
                "Unrecognized sentinel configuration statement.",
            ),
        ];
        for (line, reason) in cases {
            let mut s = sentinel();
            let e = apply(&mut s, &lines(line)).unwrap_err().to_string();
            assert!(e.contains(reason), "{line}: {e}");
            assert!(e.contains(">>> 'sentinel"), "{e}");
        }
        let mut s = sentinel();
        let e = apply(
            &mut s,
            &lines("sentinel monitor m 127.0.0.1 7000 1\nsentinel monitor m 127.0.0.1 7001 1"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("Duplicate master name.") && e.contains("at line 2"),
            "{e}"
        );
    }
}
