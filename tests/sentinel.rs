//! ringkv-sentinel against real redis-server 7.0.15 instances (and a real redis-sentinel in the
//! mixed ring): discovery, automatic failover, the old master rejoining as a replica, state
//! kept across a sentinel restart, reply shapes and config errors. Every process is stopped by
//! pid; every wait is bounded; no timing is asserted.

mod common;

use common::{
    free_port, kill_pid, redis_cli, redis_cli_ok, wait_until, RawConn, RedisServer, Server, TestDir,
};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SENTINEL_BIN: &str = env!("CARGO_BIN_EXE_ringkv-sentinel");

/// A sentinel process (ours or redis-sentinel) with its own config file.
struct Sentinel {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
    bin: String,
    _dir: TestDir,
}

impl Sentinel {
    fn start(bin: &str, master_port: u16, extra: &str) -> Sentinel {
        Sentinel::start_at(bin, "127.0.0.1", master_port, extra)
    }

    /// `extra` lines go before the monitor line (pre-monitor options such as
    /// resolve-hostnames apply in any position, as in Redis).
    fn start_at(bin: &str, master_host: &str, master_port: u16, extra: &str) -> Sentinel {
        let dir = TestDir::new();
        let port = free_port();
        let conf = dir.join("sentinel.conf");
        let log = dir.join("sentinel.log");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\n\
                 sentinel monitor mymaster {master_host} {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\n{extra}",
                dir.path_str(),
                log.display()
            ),
        )
        .unwrap();
        let mut s = Sentinel {
            child: None,
            port,
            conf,
            log,
            bin: bin.to_string(),
            _dir: dir,
        };
        s.spawn();
        s
    }

    /// Starts the process and waits until it serves on its port (checked by its pid in INFO,
    /// so a parallel test that grabbed the port is not mistaken for it). If the port was taken
    /// meanwhile, moves to a fresh port and tries again.
    fn spawn(&mut self) {
        for _ in 0..3 {
            let mut cmd = Command::new(&self.bin);
            cmd.arg(&self.conf);
            if self.bin.ends_with("redis-server") {
                cmd.arg("--sentinel");
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sentinel");
            let (pid, port) = (child.id(), self.port);
            let mut exited = false;
            let up = wait_until(Duration::from_secs(10), || {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    exited = true;
                    return true;
                }
                let out = redis_cli(port, &["INFO", "server"]);
                String::from_utf8_lossy(&out.stdout).contains(&format!("process_id:{pid}\r\n"))
            });
            if up && !exited {
                self.child = Some(child);
                return;
            }
            kill_pid(pid);
            let _ = child.wait();
            // Port taken by someone else: move to a fresh one.
            let conf = std::fs::read_to_string(&self.conf).unwrap_or_default();
            self.port = free_port();
            let conf = conf.replacen(
                &format!("port {port}\n"),
                &format!("port {}\n", self.port),
                1,
            );
            std::fs::write(&self.conf, conf).unwrap();
        }
        panic!("sentinel did not start:\n{}", self.log_text());
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_pid(c.id());
            let _ = c.wait();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&redis_cli(self.port, args).stdout).into_owned()
    }

    fn master_addr(&self) -> String {
        self.cli(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Number of entries in a SENTINEL REPLICAS/SENTINELS reply.
    fn count(&self, what: &str) -> usize {
        self.cli(&["SENTINEL", what, "mymaster"])
            .lines()
            .filter(|l| *l == "name")
            .count()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.stop();
    }
}

fn role(port: u16) -> String {
    let out =
        String::from_utf8_lossy(&redis_cli(port, &["INFO", "replication"]).stdout).into_owned();
    out.lines()
        .find_map(|l| l.strip_prefix("role:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn master_of(port: u16) -> Option<u16> {
    let out =
        String::from_utf8_lossy(&redis_cli(port, &["INFO", "replication"]).stdout).into_owned();
    out.lines()
        .find_map(|l| l.strip_prefix("master_port:"))
        .and_then(|p| p.trim().parse().ok())
}

fn start_cluster() -> (Server, Server, Server) {
    let m = RedisServer::start(&[]);
    let mp = m.port.to_string();
    let r1 = RedisServer::start(&["--replicaof", "127.0.0.1", &mp]);
    let r2 = RedisServer::start(&["--replicaof", "127.0.0.1", &mp]);
    for r in [&r1, &r2] {
        let port = r.port;
        assert!(wait_until(Duration::from_secs(20), || {
            String::from_utf8_lossy(&redis_cli(port, &["INFO", "replication"]).stdout)
                .contains("master_link_status:up")
        }));
    }
    (m, r1, r2)
}

fn wait_discovery(sentinels: &[&Sentinel]) {
    for s in sentinels {
        assert!(
            wait_until(Duration::from_secs(30), || s.count("replicas") == 2
                && s.count("sentinels") == sentinels.len() - 1),
            "discovery incomplete on {}: replicas={} sentinels={}\n{}",
            s.port,
            s.count("replicas"),
            s.count("sentinels"),
            s.log_text()
        );
    }
}

/// Kills the master and checks that the sentinels agree on a promoted replica, that the other
/// replica follows it, and returns the new master port.
fn kill_master_and_wait_failover(
    master: Server,
    replicas: [u16; 2],
    sentinels: &[&Sentinel],
) -> u16 {
    let old = master.port;
    drop(master);
    let mut new_port = 0;
    for s in sentinels {
        assert!(
            wait_until(Duration::from_secs(60), || {
                let a = s.master_addr();
                a != format!("127.0.0.1:{old}") && a.starts_with("127.0.0.1:")
            }),
            "no failover seen by {}:\n{}",
            s.port,
            s.log_text()
        );
        let p: u16 = s.master_addr().rsplit(':').next().unwrap().parse().unwrap();
        if new_port == 0 {
            new_port = p;
        }
        assert_eq!(p, new_port, "sentinels disagree on the new master");
    }
    assert!(replicas.contains(&new_port));
    assert_eq!(role(new_port), "master");
    let other = if replicas[0] == new_port {
        replicas[1]
    } else {
        replicas[0]
    };
    assert!(
        wait_until(Duration::from_secs(30), || master_of(other)
            == Some(new_port)),
        "the other replica was not repointed"
    );
    new_port
}

#[test]
fn three_ringkv_sentinels_fail_over_real_redis() {
    let (m, r1, r2) = start_cluster();
    let mp = m.port;
    // Sentinel 0 runs a notification script and a client reconfiguration script that log
    // their arguments.
    let scripts = TestDir::new();
    let notify_log = scripts.join("notify.log");
    let reconf_log = scripts.join("reconf.log");
    let mut extra = String::new();
    for (name, out, directive) in [
        ("notify.sh", &notify_log, "notification-script"),
        ("reconf.sh", &reconf_log, "client-reconfig-script"),
    ] {
        let path = scripts.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        extra.push_str(&format!(
            "sentinel {directive} mymaster {}\n",
            path.display()
        ));
    }
    let mut s: Vec<Sentinel> = (0..3)
        .map(|i| Sentinel::start(SENTINEL_BIN, mp, if i == 0 { &extra } else { "" }))
        .collect();
    wait_discovery(&s.iter().collect::<Vec<_>>());
    // Reply shapes a client relies on.
    let mut c = RawConn::connect(s[0].port);
    assert_eq!(
        c.cmd(&["SENTINEL", "get-master-addr-by-name", "mymaster"]),
        format!(
            "*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{mp}\r\n",
            mp.to_string().len()
        )
        .as_bytes()
    );
    let myid_before = s[0].cli(&["SENTINEL", "MYID"]).trim().to_string();
    assert_eq!(myid_before.len(), 40);
    // Subscribe to +switch-master before the failover.
    let mut sub = RawConn::connect(s[1].port);
    sub.cmd(&["SUBSCRIBE", "+switch-master"]);

    let new_port =
        kill_master_and_wait_failover(m, [r1.port, r2.port], &s.iter().collect::<Vec<_>>());
    let msg = sub
        .read_reply_bytes(Duration::from_secs(30))
        .expect("+switch-master message");
    let text = String::from_utf8_lossy(&msg).into_owned();
    assert!(
        text.contains(&format!("mymaster 127.0.0.1 {mp} 127.0.0.1 {new_port}")),
        "{text}"
    );
    // The leader reports the promoted address from reconf_slaves on; +switch-master follows
    // when every replica is reconfigured.
    for x in &s {
        assert!(
            wait_until(Duration::from_secs(30), || x
                .log_text()
                .contains("+switch-master mymaster")),
            "{}",
            x.log_text()
        );
    }
    assert!(s
        .iter()
        .any(|x| x.log_text().contains("+elected-leader master mymaster")));
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(20), || read(&notify_log)
            .contains(&format!("+sdown master mymaster 127.0.0.1 {mp}"))),
        "notification script log: {}",
        read(&notify_log)
    );
    assert!(
        wait_until(Duration::from_secs(20), || read(&reconf_log)
            .contains(&format!("start 127.0.0.1 {mp} 127.0.0.1 {new_port}"))),
        "reconfig script log: {}",
        read(&reconf_log)
    );
    let line = read(&reconf_log);
    assert!(
        line.starts_with("mymaster leader start") || line.starts_with("mymaster observer start"),
        "{line}"
    );

    // The old master comes back and is turned into a replica of the new one.
    let old_dir = TestDir::new();
    let mut old = Command::new("redis-server")
        .args([
            "--port",
            &mp.to_string(),
            "--save",
            "",
            "--dir",
            &old_dir.path_str(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("restart old master");
    let converted = wait_until(Duration::from_secs(60), || master_of(mp) == Some(new_port));
    kill_pid(old.id());
    let _ = old.wait();
    assert!(
        converted,
        "old master not converted:\n{}",
        s.iter().map(|x| x.log_text()).collect::<String>()
    );
    assert!(s
        .iter()
        .any(|x| x.log_text().contains("+convert-to-slave slave 127.0.0.1:")));

    // A restarted sentinel keeps its id and epochs (rewritten config).
    let conf = std::fs::read_to_string(&s[0].conf).unwrap();
    assert!(
        conf.contains(&format!("sentinel myid {myid_before}")),
        "{conf}"
    );
    assert!(
        conf.contains(&format!("sentinel monitor mymaster 127.0.0.1 {new_port} 2")),
        "{conf}"
    );
    s[0].stop();
    s[0].spawn();
    let restarted = &s[0];
    assert!(
        wait_until(Duration::from_secs(10), || restarted
            .cli(&["SENTINEL", "MYID"])
            .trim()
            == myid_before),
        "{}",
        restarted.log_text()
    );
    assert_eq!(s[0].master_addr(), format!("127.0.0.1:{new_port}"));
    let info = s[0].cli(&["SENTINEL", "MASTER", "mymaster"]);
    let lines: Vec<&str> = info.lines().collect();
    let epoch = lines
        .iter()
        .position(|l| *l == "config-epoch")
        .map(|i| lines[i + 1])
        .unwrap_or("0");
    assert_ne!(epoch, "0", "{info}");
}

/// 3 sentinels of which `ours` are ringkv-sentinels and the rest redis-sentinels. With
/// `ours_lead`, ringkv's sentinels get quorum 1 and a short down-after while the redis ones see
/// the failure 2 s later, so a ringkv sentinel starts the failover and is elected with the
/// redis sentinels' votes (votes do not depend on the voter's own view); otherwise the other
/// way round. Who actually led is only reported, never asserted (timing).
fn mixed_ring(ours: usize, ours_lead: bool) {
    let (m, r1, r2) = start_cluster();
    let mp = m.port;
    let slow = "sentinel down-after-milliseconds mymaster 3000\n";
    let s: Vec<Sentinel> = (0..3)
        .map(|i| {
            let is_ours = i < ours;
            let extra = if is_ours == ours_lead { "" } else { slow };
            let bin = if is_ours {
                SENTINEL_BIN
            } else {
                "/usr/bin/redis-server"
            };
            let x = Sentinel::start(bin, mp, extra);
            if is_ours == ours_lead {
                assert_eq!(
                    x.cli(&["SENTINEL", "SET", "mymaster", "quorum", "1"])
                        .trim(),
                    "OK"
                );
            }
            x
        })
        .collect();
    let all: Vec<&Sentinel> = s.iter().collect();
    wait_discovery(&all);
    kill_master_and_wait_failover(m, [r1.port, r2.port], &all);
    let leader = s
        .iter()
        .position(|x| x.log_text().contains("+elected-leader"))
        .map(|i| if i < ours { "ringkv" } else { "redis" });
    eprintln!("mixed ring ({ours} ringkv, ours_lead={ours_lead}): failover led by {leader:?}");
}

#[test]
fn mixed_ring_two_ringkv_one_redis_sentinel() {
    mixed_ring(2, true);
}

#[test]
fn mixed_ring_one_ringkv_leads_two_redis_sentinels() {
    mixed_ring(1, true);
}

#[test]
fn mixed_ring_redis_sentinels_lead_one_ringkv() {
    mixed_ring(1, false);
}

#[test]
fn mixed_ring_redis_sentinel_leads_two_ringkv() {
    mixed_ring(2, false);
}

#[test]
fn reply_shapes_match_redis_sentinel() {
    let m = RedisServer::start(&[]);
    let ours = Sentinel::start(SENTINEL_BIN, m.port, "");
    let real = Sentinel::start("/usr/bin/redis-server", m.port, "");
    let cases: &[&[&str]] = &[
        &["SENTINEL"],
        &["SENTINEL", "nope"],
        &["SENTINEL", "MASTER", "nope"],
        &["SENTINEL", "get-master-addr-by-name", "nope"],
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "10.0.0.1",
            "1",
            "0",
            "*",
        ],
        &[
            "SENTINEL",
            "is-master-down-by-addr",
            "10.0.0.1",
            "x",
            "0",
            "*",
        ],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "down-after-milliseconds",
            "-20",
        ],
        &["SENTINEL", "SET", "mymaster", "bogus", "1"],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "quorum",
            "3",
            "parallel-syncs",
            "x",
        ],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "rename-command",
            "CONFIG",
            "",
        ],
        &["SENTINEL", "SET", "mymaster", "rename-command", "CONFIG"],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            "/bin/true",
        ],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "master-reboot-down-after-period",
            "-1",
        ],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "quorum",
            "2",
            "failover-timeout",
            "0",
        ],
        &["SENTINEL", "SET", "mymaster", "auth-user"],
        &["SENTINEL", "SET", "nope", "quorum", "1"],
        &["SENTINEL", "RESET", "nomatch*"],
        &["SENTINEL", "DEBUG", "ping-period", "0"],
        &["SENTINEL", "DEBUG", "bogus", "1"],
        &["SENTINEL", "DEBUG", "ping-period"],
        &["SENTINEL", "INFO-CACHE", "nope"],
        &["SENTINEL", "CONFIG", "SET", "announce-port", "x"],
        &["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"],
        &["SENTINEL", "CONFIG", "GET"],
        &["SENTINEL", "REMOVE", "nope"],
        &["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1"],
        &["PUBLISH", "__sentinel__:hello", "garbage"],
        &["SUBSCRIBE"],
        &["INFO", "nosuchsection"],
        &["ROLE", "extra"],
        &["AUTH", "x"],
        &["HELLO", "4"],
        &["HELLO", "2", "SETNAME", "a b"],
        &["CLIENT", "NOPE"],
        &["CLIENT", "SETNAME", "x y"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "REPLY"],
        &["COMMAND", "NOPE"],
        &["ACL", "NOPE"],
        &["SHUTDOWN", "NOPE", "x"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "SAVE", "ABORT"],
        &["SHUTDOWN", "NOSAVE", "SAVE"],
        &["UNSUBSCRIBE"],
        &["PUNSUBSCRIBE", "x"],
        &["SENTINEL", "MASTERS", "x"],
        &["SENTINEL", "MYID", "x"],
        &["SENTINEL", "CKQUORUM", "nope"],
        &["SENTINEL", "SENTINELS", "nope"],
        &["SENTINEL", "REPLICAS", "nope"],
        &["SENTINEL", "FAILOVER", "nope"],
        &["SENTINEL", "SIMULATE-FAILURE", "HELP"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "1"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "abc"],
        &["SENTINEL", "MONITOR", "x", "not-an-ip", "1", "1"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "70000", "1"],
        &["SENTINEL", "CONFIG", "GET", "announce-port"],
        &["SENTINEL", "CONFIG", "SET", "nope", "1"],
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "2"],
        &["SENTINEL", "MONITOR", "other", "127.0.0.1", "1", "0"],
        &["SENTINEL", "FAILOVER", "mymaster"],
        &["SENTINEL", "SIMULATE-FAILURE", "bogus"],
        &["PUBLISH", "chan", "x"],
        &["PING"],
        &["GET", "k"],
        &["QUIT"],
        &["COMMAND", "COUNT"],
        &["ROLE"],
        &["SENTINEL", "CKQUORUM", "mymaster"],
    ];
    let mut a = RawConn::connect(ours.port);
    let mut b = RawConn::connect(real.port);
    for resp in ["2", "3"] {
        a.cmd(&["HELLO", resp]);
        b.cmd(&["HELLO", resp]);
        for c in cases {
            assert_eq!(
                String::from_utf8_lossy(&a.cmd(c)),
                String::from_utf8_lossy(&b.cmd(c)),
                "RESP{resp} {c:?}"
            );
        }
    }
    // Options before a failing one were applied, the same way on both.
    let field = |s: &Sentinel, name: &str| -> String {
        let out = s.cli(&["SENTINEL", "MASTER", "mymaster"]);
        let lines: Vec<&str> = out.lines().collect();
        lines
            .iter()
            .position(|l| *l == name)
            .and_then(|i| lines.get(i + 1))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    for f in [
        "quorum",
        "parallel-syncs",
        "failover-timeout",
        "down-after-milliseconds",
    ] {
        assert_eq!(field(&ours, f), field(&real, f), "{f}");
    }
    // Instance maps: same field names in the same order.
    let keys = |s: &Sentinel| -> Vec<String> {
        s.cli(&["SENTINEL", "MASTER", "mymaster"])
            .lines()
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(15), || keys(&ours) == keys(&real)),
        "{:?} vs {:?}",
        keys(&ours),
        keys(&real)
    );
}

#[test]
fn config_errors_stop_startup_like_redis_sentinel() {
    let dir = TestDir::new();
    let run = |bin: &str, conf: &std::path::Path| {
        let mut cmd = Command::new("timeout");
        cmd.arg("10").arg(bin).arg(conf);
        if bin.ends_with("-server") {
            cmd.arg("--sentinel");
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for (i, bad) in [
        "sentinel monitor m 127.0.0.1 7000 0",
        "sentinel bogus x",
        "sentinel down-after-milliseconds nope 100",
        "sentinel myid 123",
        // ACL user lines, checked while the file is read (Redis's quirky argument quoting).
        "user bob on\nuser bob off",
        "user bob on bogus",
        "user bob on +nosuch %X~k",
        "user bob on >x ~* ~y",
        "user bob (~x",
    ]
    .iter()
    .enumerate()
    {
        let conf = dir.join(&format!("bad{i}.conf"));
        std::fs::write(&conf, format!("port 0\n{bad}\n")).unwrap();
        let ours = run(SENTINEL_BIN, &conf);
        let real = run("/usr/bin/redis-server", &conf);
        assert_eq!(ours.0, Some(1), "{bad}");
        assert_eq!(ours.1, real.1, "{bad}");
    }
    // `ringkv-server <conf> --sentinel` is the same program path.
    let conf = dir.join("bad-server.conf");
    std::fs::write(&conf, "port 0\nsentinel monitor m 127.0.0.1 7000 0\n").unwrap();
    let ours = run(env!("CARGO_BIN_EXE_ringkv-server"), &conf);
    let real = run("/usr/bin/redis-server", &conf);
    assert_eq!((ours.0, &ours.1), (Some(1), &real.1));
    // No config file at all.
    let out = common::run_bounded(10, SENTINEL_BIN, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("# Sentinel needs config file on disk to save state. Exiting..."),
        "{text}"
    );
    // A config file that cannot be written stops startup.
    let conf = dir.join("ro.conf");
    std::fs::write(&conf, "port 0\nsentinel monitor m 127.0.0.1 7000 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o444)).unwrap();
    if unsafe { libc::geteuid() } != 0 {
        let ours = run(SENTINEL_BIN, &conf);
        assert_eq!(ours.0, Some(1));
        assert!(
            ours.2
                .contains("is not writable: Permission denied. Exiting..."),
            "{}",
            ours.2
        );
    }
}

/// `SENTINEL FAILOVER mymaster` (retried until the replica is selectable), then waits until the
/// sentinel reports the replica on `port` as the master.
fn manual_failover_to(s: &Sentinel, port: u16) {
    let mut out = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            out = s.cli(&["SENTINEL", "FAILOVER", "mymaster"]);
            out.trim() == "OK"
        }),
        "{out}\n{}",
        s.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(30), || s.master_addr()
            == format!("127.0.0.1:{port}")),
        "{}",
        s.log_text()
    );
}

fn info_repl_auth(port: u16, pass: &str) -> String {
    String::from_utf8_lossy(
        &redis_cli(
            port,
            &["-a", pass, "--no-auth-warning", "INFO", "replication"],
        )
        .stdout,
    )
    .into_owned()
}

/// SENTINEL FAILOVER (forced, no election) with auth-pass towards password-protected
/// instances; then TILT entered after the sentinel was stopped for more than 2 s and left after
/// the (shortened) tilt period.
#[test]
fn manual_failover_with_auth_pass_and_tilt() {
    let m = RedisServer::start(&["--requirepass", "secret", "--masterauth", "secret"]);
    let mp = m.port.to_string();
    let r = RedisServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &mp,
        "--masterauth",
        "secret",
        "--requirepass",
        "secret",
    ]);
    let rp = r.port;
    assert!(wait_until(Duration::from_secs(20), || info_repl_auth(
        rp, "secret"
    )
    .contains("master_link_status:up")));
    let s = Sentinel::start(SENTINEL_BIN, m.port, "sentinel auth-pass mymaster secret\n");
    assert!(
        wait_until(Duration::from_secs(20), || s.count("replicas") == 1),
        "{}",
        s.log_text()
    );
    let conf = std::fs::read_to_string(&s.conf).unwrap();
    assert!(
        conf.contains("sentinel auth-pass mymaster secret"),
        "{conf}"
    );
    // The replica must have been seen by INFO recently enough to be selected.
    manual_failover_to(&s, rp);
    assert!(info_repl_auth(rp, "secret").contains("role:master"));
    // The old master, still running, is converted into a replica of the promoted one.
    let old = m.port;
    assert!(
        wait_until(Duration::from_secs(40), || info_repl_auth(old, "secret")
            .contains(&format!("master_port:{rp}"))),
        "{}",
        s.log_text()
    );
    assert!(s.log_text().contains("+convert-to-slave slave"));

    // A wrong auth-pass takes effect at once (links reconnect): PING answers -NOAUTH, which
    // does not count as available, so the master goes SDOWN; the right one brings it back.
    assert_eq!(
        s.cli(&["SENTINEL", "SET", "mymaster", "auth-pass", "wrong"])
            .trim(),
        "OK"
    );
    assert!(
        wait_until(Duration::from_secs(15), || s
            .log_text()
            .contains(&format!("+sdown master mymaster 127.0.0.1 {rp}"))),
        "{}",
        s.log_text()
    );
    assert_eq!(
        s.cli(&["SENTINEL", "SET", "mymaster", "auth-pass", "secret"])
            .trim(),
        "OK"
    );
    assert!(
        wait_until(Duration::from_secs(15), || s
            .log_text()
            .contains(&format!("-sdown master mymaster 127.0.0.1 {rp}"))),
        "{}",
        s.log_text()
    );
    assert!(s.log_text().contains("+set master mymaster 127.0.0.1"));
    assert!(s.log_text().contains("auth-pass ******"));

    // TILT: the sentinel's timer sees a jump of more than 2 s.
    let pid = s.child.as_ref().unwrap().id();
    common::signal(pid, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500));
    common::signal(pid, libc::SIGCONT);
    assert!(
        wait_until(Duration::from_secs(10), || s
            .cli(&["INFO", "sentinel"])
            .contains("sentinel_tilt:1")),
        "{}",
        s.log_text()
    );
    assert!(s.log_text().contains("+tilt #tilt mode entered"));
    assert_eq!(
        s.cli(&["SENTINEL", "DEBUG", "tilt-period", "500"]).trim(),
        "OK"
    );
    assert!(
        wait_until(Duration::from_secs(10), || s
            .log_text()
            .contains("-tilt #tilt mode exited")),
        "{}",
        s.log_text()
    );
}

/// A SIGSTOPped master (connections stay open, replies never come) is failed over like a dead
/// one; once resumed it is converted into a replica of the promoted one.
#[test]
fn stopped_master_fails_over_and_rejoins_as_replica() {
    let (m, r1, r2) = start_cluster();
    let mp = m.port;
    let s: Vec<Sentinel> = (0..3)
        .map(|_| Sentinel::start(SENTINEL_BIN, mp, ""))
        .collect();
    let all: Vec<&Sentinel> = s.iter().collect();
    wait_discovery(&all);
    common::signal(m.pid, libc::SIGSTOP);
    let mut new_port = 0;
    for x in &s {
        assert!(
            wait_until(Duration::from_secs(60), || {
                let a = x.master_addr();
                a != format!("127.0.0.1:{mp}") && a.starts_with("127.0.0.1:")
            }),
            "no failover seen by {}:\n{}",
            x.port,
            x.log_text()
        );
        new_port = x.master_addr().rsplit(':').next().unwrap().parse().unwrap();
    }
    assert!([r1.port, r2.port].contains(&new_port));
    common::signal(m.pid, libc::SIGCONT);
    assert!(
        wait_until(Duration::from_secs(60), || master_of(mp) == Some(new_port)),
        "resumed old master not converted:\n{}",
        s[0].log_text()
    );
}

/// A real client library's Sentinel support (redis-rs: SENTINEL MASTERS / REPLICAS, then ROLE
/// on the node) finds the master and a replica through ringkv-sentinel, and the new master
/// after a failover.
#[test]
fn redis_rs_sentinel_client_finds_master_and_replica() {
    let m = RedisServer::start(&[]);
    let mp = m.port.to_string();
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &mp]);
    let s = Sentinel::start(SENTINEL_BIN, m.port, "");
    assert!(wait_until(Duration::from_secs(20), || s.count("replicas") == 1));
    let port = r.port;
    assert!(wait_until(Duration::from_secs(20), || {
        let out = s.cli(&["SENTINEL", "REPLICAS", "mymaster"]);
        out.contains("master-link-status\nok") && out.contains(&port.to_string())
    }));
    let mut sentinel =
        redis::sentinel::Sentinel::build(vec![format!("redis://127.0.0.1:{}/", s.port)]).unwrap();
    let master = sentinel.master_for("mymaster", None).expect("master_for");
    let mut con = master.get_connection().expect("master connection");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap();
    assert_eq!(role[0], redis::Value::BulkString(b"master".to_vec()));
    let replica = sentinel.replica_for("mymaster", None).expect("replica_for");
    let mut con = replica.get_connection().expect("replica connection");
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut con).unwrap();
    assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));

    // After a failover the same client finds the promoted replica and writes to it.
    manual_failover_to(&s, port);
    let mut served_by = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            let Ok(master) = sentinel.master_for("mymaster", None) else {
                return false;
            };
            let Ok(mut con) = master.get_connection() else {
                return false;
            };
            let written: redis::RedisResult<()> =
                redis::cmd("SET").arg("k").arg("after").query(&mut con);
            served_by = redis::cmd("CONFIG")
                .arg("GET")
                .arg("port")
                .query::<Vec<String>>(&mut con)
                .map(|v| v.join(" "))
                .unwrap_or_default();
            written.is_ok() && served_by == format!("port {port}")
        }),
        "after the failover the client reached {served_by:?}"
    );
    assert_eq!(crate::role(port), "master");
    assert_eq!(redis_cli_ok(port, &["GET", "k"]).trim(), "after");
}

/// resolve-hostnames / announce-hostnames: a master configured as `localhost`, a replica
/// announcing itself as `localhost`; ringkv-sentinel and redis-sentinel agree on names and fail
/// over to `localhost:<replica port>`.
#[test]
fn hostnames_are_resolved_and_announced_with_redis_sentinel() {
    let m = RedisServer::start(&[]);
    let mp = m.port.to_string();
    let r = RedisServer::start(&[
        "--replicaof",
        "localhost",
        &mp,
        "--replica-announce-ip",
        "localhost",
    ]);
    let rp = r.port;
    assert!(wait_until(Duration::from_secs(20), || role(rp) == "slave"
        && master_of(rp) == Some(m.port)));
    let opts = "sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n";
    let ours = Sentinel::start_at(SENTINEL_BIN, "localhost", m.port, opts);
    let real = Sentinel::start_at("/usr/bin/redis-server", "localhost", m.port, opts);
    for x in [&ours, &real] {
        assert_eq!(
            x.cli(&["SENTINEL", "SET", "mymaster", "quorum", "1"])
                .trim(),
            "OK"
        );
    }
    assert!(
        wait_until(Duration::from_secs(30), || ours.count("replicas") == 1
            && ours.count("sentinels") == 1),
        "{}",
        ours.log_text()
    );
    assert_eq!(ours.master_addr(), format!("localhost:{mp}"));
    assert!(ours
        .cli(&["SENTINEL", "REPLICAS", "mymaster"])
        .contains(&format!("localhost:{rp}")));
    drop(m);
    for x in [&ours, &real] {
        assert!(
            wait_until(Duration::from_secs(60), || x.master_addr()
                == format!("localhost:{rp}")),
            "{}",
            x.log_text()
        );
    }
}

/// SENTINEL SIMULATE-FAILURE CRASH-AFTER-ELECTION: the sentinel exits with 99 right after it
/// is elected (here by a forced SENTINEL FAILOVER), before promoting anything.
#[test]
fn simulate_failure_crash_after_election_exits_99() {
    let m = RedisServer::start(&[]);
    let mp = m.port.to_string();
    let r = RedisServer::start(&["--replicaof", "127.0.0.1", &mp]);
    let mut s = Sentinel::start(SENTINEL_BIN, m.port, "");
    assert!(wait_until(Duration::from_secs(20), || s.count("replicas") == 1));
    assert_eq!(
        s.cli(&["SENTINEL", "SIMULATE-FAILURE", "CRASH-AFTER-ELECTION"])
            .trim(),
        "OK"
    );
    assert!(s
        .cli(&["INFO", "sentinel"])
        .contains("sentinel_simulate_failure_flags:1"));
    let mut out = String::new();
    assert!(
        wait_until(Duration::from_secs(20), || {
            out = s.cli(&["SENTINEL", "FAILOVER", "mymaster"]);
            out.trim() == "OK"
        }),
        "{out}"
    );
    let mut child = s.child.take().unwrap();
    let mut status = None;
    assert!(wait_until(Duration::from_secs(20), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    }));
    assert_eq!(status.and_then(|st| st.code()), Some(99));
    assert!(s.log_text().contains("+elected-leader master mymaster"));
    // Nothing was promoted.
    assert_eq!(role(r.port), "slave");
}

/// Two masters monitored by the same two sentinels: each sentinel keeps a single command link
/// to its peer (shared by runid, `link-refcount 2`), and SENTINEL MONITOR / REMOVE at runtime
/// start and stop monitoring.
#[test]
fn peer_link_is_shared_across_masters() {
    let a = RedisServer::start(&[]);
    let b = RedisServer::start(&[]);
    let extra = format!("sentinel monitor other 127.0.0.1 {} 2\n", b.port);
    let s1 = Sentinel::start(SENTINEL_BIN, a.port, &extra);
    let s2 = Sentinel::start(SENTINEL_BIN, a.port, "");
    let bp = b.port.to_string();
    assert_eq!(
        s2.cli(&["SENTINEL", "MONITOR", "other", "127.0.0.1", &bp, "2"])
            .trim(),
        "OK"
    );
    let refcount = |x: &Sentinel, master: &str| -> String {
        let out = x.cli(&["SENTINEL", "SENTINELS", master]);
        let lines: Vec<&str> = out.lines().collect();
        lines
            .iter()
            .position(|l| *l == "link-refcount")
            .and_then(|i| lines.get(i + 1))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(20), || refcount(&s1, "mymaster") == "2"
            && refcount(&s1, "other") == "2"),
        "{}",
        s1.log_text()
    );
    let peer_id = s2.cli(&["SENTINEL", "MYID"]).trim().to_string();
    let name = format!("name=sentinel-{}-cmd", &peer_id[..8]);
    let links = s1
        .cli(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.contains(&name))
        .count();
    assert_eq!(links, 1);
    // REMOVE on s1: the peer is still known through mymaster, with one reference left.
    assert_eq!(s1.cli(&["SENTINEL", "REMOVE", "other"]).trim(), "OK");
    assert_eq!(refcount(&s1, "mymaster"), "1");
    assert!(!std::fs::read_to_string(&s1.conf)
        .unwrap()
        .contains("sentinel monitor other"));
}

/// The Python interpreter that has redis-py: `RINGKV_PYTHON` if set (scripts/test.sh sets it when
/// it had to fall back to Debian's python3-redis), else `python3` from PATH. A missing module is
/// a test failure with the fix in the message, never a silent skip.
fn python_with_redis_py() -> String {
    let python = std::env::var("RINGKV_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = common::run_bounded(30, &python, &["-c", "import redis.sentinel"]);
    assert!(
        out.status.success(),
        "redis-py is missing for {python}: run `{python} -m pip install redis` (or install \
         Debian's python3-redis and set RINGKV_PYTHON=/usr/bin/python3); scripts/test.sh does \
         this.\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    python
}

/// redis-py against the given sentinels: `Sentinel([...]).discover_master('mymaster')`, then a
/// SET/GET of `key` through `master_for('mymaster')`. Returns the discovered "host:port", or the
/// script's error text.
fn redis_py_discover_and_write(
    python: &str,
    sentinels: &[u16],
    key: &str,
) -> Result<String, String> {
    const SCRIPT: &str = r#"
import sys
from redis.sentinel import Sentinel
key = sys.argv[1]
ports = [int(p) for p in sys.argv[2:]]
s = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=2.0)
host, port = s.discover_master("mymaster")
m = s.master_for("mymaster", socket_timeout=2.0)
m.set(key, "v-" + key)
got = m.get(key)
if got != b"v-" + key.encode():
    sys.exit("read back %r" % (got,))
print("%s:%d" % (host, port))
"#;
    let ports: Vec<String> = sentinels.iter().map(|p| p.to_string()).collect();
    let mut args = vec!["-c", SCRIPT, key];
    args.extend(ports.iter().map(|p| p.as_str()));
    let out = common::run_bounded(30, python, &args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// redis-py's Sentinel client (SENTINEL get-master-addr-by-name, then SENTINEL MASTERS state
/// checks, then writes on the node) finds the master through three ringkv-sentinels, and after
/// a failover finds and writes to the promoted replica.
#[test]
fn redis_py_sentinel_client_follows_failover() {
    let python = python_with_redis_py();
    let (m, r1, r2) = start_cluster();
    let mp = m.port;
    let s: Vec<Sentinel> = (0..3)
        .map(|_| Sentinel::start(SENTINEL_BIN, mp, ""))
        .collect();
    let all: Vec<&Sentinel> = s.iter().collect();
    wait_discovery(&all);
    let ports: Vec<u16> = s.iter().map(|x| x.port).collect();

    let mut last = String::new();
    let ok = wait_until(
        Duration::from_secs(30),
        || match redis_py_discover_and_write(&python, &ports, "before") {
            Ok(addr) => {
                last = addr;
                true
            }
            Err(e) => {
                last = e;
                false
            }
        },
    );
    assert!(
        ok,
        "redis-py could not use the master before failover: {last}"
    );
    assert_eq!(last, format!("127.0.0.1:{mp}"));

    // Replication is asynchronous: let the key reach both replicas before the kill.
    for port in [r1.port, r2.port] {
        assert!(
            wait_until(Duration::from_secs(20), || {
                redis_cli(port, &["GET", "before"]).stdout == b"v-before\n".to_vec()
            }),
            "the write before the failover did not reach replica {port}"
        );
    }
    let new_port = kill_master_and_wait_failover(m, [r1.port, r2.port], &all);
    let ok = wait_until(
        Duration::from_secs(30),
        || match redis_py_discover_and_write(&python, &ports, "after") {
            Ok(addr) => {
                last = addr;
                last == format!("127.0.0.1:{new_port}")
            }
            Err(e) => {
                last = e;
                false
            }
        },
    );
    assert!(
        ok,
        "redis-py did not follow the failover to {new_port}: {last}\n{}",
        s[0].log_text()
    );
    assert_eq!(
        redis_cli(new_port, &["GET", "after"]).stdout,
        b"v-after\n".to_vec()
    );
    // The key written before the failover was replicated to the promoted node.
    assert_eq!(
        redis_cli(new_port, &["GET", "before"]).stdout,
        b"v-before\n".to_vec()
    );
}

// ---------------------------------------------------------------------------------------------
// ACL and COMMAND in sentinel mode, compared with redis-sentinel 7.0.15.

/// A reply in a form where the order of aggregate elements does not count: Redis emits the
/// command table (COMMAND LIST/INFO, ACL CAT <category>) in its randomly seeded dict order.
fn unordered(r: &common::Reply) -> String {
    use common::Reply;
    let sorted = |items: &[Reply]| {
        let mut v: Vec<String> = items.iter().map(unordered).collect();
        v.sort();
        v.join(",")
    };
    match r {
        Reply::Array(Some(items)) => format!("*[{}]", sorted(items)),
        Reply::Set(items) => format!("~[{}]", sorted(items)),
        Reply::Push(items) => format!(">[{}]", sorted(items)),
        Reply::Map(pairs) => {
            let mut v: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", unordered(k), unordered(v)))
                .collect();
            v.sort();
            format!("%[{}]", v.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn parse_one(bytes: &[u8]) -> common::Reply {
    match common::parse_reply(bytes) {
        Ok(Some((r, _))) => r,
        other => panic!("not one reply: {other:?} in {}", common::show(bytes)),
    }
}

/// How a case's replies are compared.
#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    Exact,
    Unordered,
}

/// Runs `cases` on both sentinels over one connection each, in RESP2 then RESP3.
fn same_replies(ours: &Sentinel, real: &Sentinel, cases: &[(Cmp, &[&str])]) {
    for resp in ["2", "3"] {
        let mut a = RawConn::connect(ours.port);
        let mut b = RawConn::connect(real.port);
        a.cmd(&["HELLO", resp]);
        b.cmd(&["HELLO", resp]);
        for (how, c) in cases {
            let (x, y) = (a.cmd(c), b.cmd(c));
            match how {
                Cmp::Exact => assert_eq!(common::show(&x), common::show(&y), "RESP{resp} {c:?}"),
                Cmp::Unordered => assert_eq!(
                    unordered(&parse_one(&x)),
                    unordered(&parse_one(&y)),
                    "RESP{resp} {c:?}"
                ),
            }
        }
    }
}

/// Our sentinel and redis-sentinel, each monitoring an address where nothing listens.
fn sentinel_pair() -> (Sentinel, Sentinel) {
    let nobody = free_port();
    (
        Sentinel::start(SENTINEL_BIN, nobody, ""),
        Sentinel::start("/usr/bin/redis-server", nobody, ""),
    )
}

#[test]
fn acl_command_table_replies_match_redis_sentinel() {
    use Cmp::*;
    let (ours, real) = sentinel_pair();
    let cases: &[(Cmp, &[&str])] = &[
        (Exact, &["COMMAND", "COUNT"]),
        (Unordered, &["COMMAND", "LIST"]),
        (
            Unordered,
            &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin"],
        ),
        (
            Unordered,
            &["COMMAND", "LIST", "FILTERBY", "aclcat", "CONNECTION"],
        ),
        (Unordered, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "s*"]),
        (Exact, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
        (Exact, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]),
        (Exact, &["COMMAND", "LIST", "FILTERBY", "bogus", "x"]),
        (Exact, &["COMMAND", "LIST", "x"]),
        (Unordered, &["COMMAND"]),
        (Unordered, &["COMMAND", "INFO"]),
        (
            Unordered,
            &["COMMAND", "INFO", "sentinel", "acl", "client", "command"],
        ),
        (
            Exact,
            &[
                "COMMAND", "INFO", "ping", "info", "role", "publish", "auth", "hello",
            ],
        ),
        (
            Exact,
            &[
                "COMMAND",
                "INFO",
                "sentinel|masters",
                "acl|getuser",
                "client|list",
            ],
        ),
        (
            Exact,
            &[
                "COMMAND",
                "INFO",
                "get",
                "nosuch|x",
                "sentinel|nosuch",
                "client|id",
            ],
        ),
        (Exact, &["COMMAND", "GETKEYS", "sentinel", "masters"]),
        (Exact, &["COMMAND", "GETKEYS", "sentinel", "nosuch"]),
        (Exact, &["COMMAND", "GETKEYS", "get", "k"]),
        (Exact, &["COMMAND", "GETKEYS", "ping"]),
        (Exact, &["COMMAND", "GETKEYSANDFLAGS", "publish", "a", "b"]),
        (Exact, &["COMMAND", "HELP"]),
        (Exact, &["ACL", "CAT"]),
        (Unordered, &["ACL", "CAT", "admin"]),
        (Unordered, &["ACL", "CAT", "SLOW"]),
        (Unordered, &["ACL", "CAT", "pubsub"]),
        (Exact, &["ACL", "CAT", "nosuch"]),
        // In a RESP2 subscribed context the refusal names the subcommand.
        (Exact, &["SUBSCRIBE", "x"]),
        (Exact, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"]),
        (Exact, &["CLIENT", "GETNAME"]),
        (Exact, &["ACL", "WHOAMI"]),
        (Exact, &["PING"]),
        (Exact, &["UNSUBSCRIBE"]),
    ];
    same_replies(&ours, &real, cases);
}

#[test]
fn acl_user_lifecycle_matches_redis_sentinel() {
    use Cmp::*;
    let (ours, real) = sentinel_pair();
    // Users whose rules need at most one single-command rule: Redis emits several in its
    // randomly seeded dict order.
    let cases: &[(Cmp, &[&str])] = &[
        (Exact, &["ACL", "WHOAMI"]),
        (Exact, &["ACL", "USERS"]),
        (Exact, &["ACL", "LIST"]),
        (Exact, &["ACL", "GETUSER", "default"]),
        (Exact, &["ACL", "GETUSER", "nosuch"]),
        (
            Exact,
            &[
                "ACL",
                "SETUSER",
                "alice",
                "on",
                ">secret",
                "+sentinel|myid",
                "&news.*",
                "%R~k",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "alice"]),
        (
            Exact,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "on",
                "nopass",
                "+@all",
                "-@dangerous",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "bob"]),
        (
            Exact,
            &[
                "ACL",
                "SETUSER",
                "carol",
                "+@admin",
                "-sentinel|set",
                "+@connection",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "carol"]),
        (
            Exact,
            &[
                "ACL", "SETUSER", "dave", "-@all", "+ping|x", "(+ping", "&x", "~y)", "%W~w",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "dave"]),
        (Exact, &["ACL", "SETUSER", "dave", "reset"]),
        (Exact, &["ACL", "GETUSER", "dave"]),
        (
            Exact,
            &[
                "ACL",
                "SETUSER",
                "erin",
                "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
                "skip-sanitize-payload",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "erin"]),
        (
            Exact,
            &[
                "ACL",
                "SETUSER",
                "erin",
                "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
                "allkeys",
                "allchannels",
                "allcommands",
            ],
        ),
        (Exact, &["ACL", "GETUSER", "erin"]),
        (Exact, &["ACL", "LIST"]),
        (Exact, &["ACL", "USERS"]),
        // Rule errors, and the user left as it was.
        (Exact, &["ACL", "SETUSER", "alice", "off", "+nosuch"]),
        (Exact, &["ACL", "SETUSER", "alice", "+@nosuch"]),
        (Exact, &["ACL", "SETUSER", "alice", "~*", "~k"]),
        (Exact, &["ACL", "SETUSER", "alice", "&*", "&k"]),
        (Exact, &["ACL", "SETUSER", "alice", "<notapassword"]),
        (Exact, &["ACL", "SETUSER", "alice", "#abc"]),
        (Exact, &["ACL", "SETUSER", "alice", "+sentinel|masters|x"]),
        (Exact, &["ACL", "SETUSER", "alice", "+client|"]),
        (Exact, &["ACL", "SETUSER", "alice", "%X~k"]),
        (Exact, &["ACL", "SETUSER", "alice", "(+ping", "~x"]),
        (Exact, &["ACL", "SETUSER", "alice", "bogus"]),
        (Exact, &["ACL", "SETUSER", "a b"]),
        (Exact, &["ACL", "GETUSER", "alice"]),
        (Exact, &["ACL", "SETUSER", "nobody", "bogus"]),
        (Exact, &["ACL", "GETUSER", "nobody"]),
        // DRYRUN.
        (Exact, &["ACL", "DRYRUN", "alice", "sentinel", "myid"]),
        (Exact, &["ACL", "DRYRUN", "alice", "sentinel", "masters"]),
        (Exact, &["ACL", "DRYRUN", "alice", "ping"]),
        (Exact, &["ACL", "DRYRUN", "nosuch", "ping"]),
        (Exact, &["ACL", "DRYRUN", "alice", "get", "k"]),
        (Exact, &["ACL", "DRYRUN", "alice", "sentinel", "nosuch"]),
        (Exact, &["ACL", "DRYRUN", "alice", "ping", "a", "b"]),
        (Exact, &["ACL", "DRYRUN", "bob", "publish", "ch", "x"]),
        // The rest of ACL.
        (Exact, &["ACL", "DELUSER", "bob", "nosuch"]),
        (Exact, &["ACL", "DELUSER", "default"]),
        (Exact, &["ACL", "USERS"]),
        (Exact, &["ACL", "LOG"]),
        (Exact, &["ACL", "LOG", "RESET"]),
        (Exact, &["ACL", "LOG", "x"]),
        (Exact, &["ACL", "GENPASS", "0"]),
        (Exact, &["ACL", "GENPASS", "x"]),
        (Exact, &["ACL", "LOAD"]),
        (Exact, &["ACL", "SAVE"]),
        (Exact, &["ACL", "HELP"]),
        (Exact, &["ACL", "NOPE"]),
        (Exact, &["ACL", "WHOAMI", "x"]),
        (Exact, &["ACL", "SETUSER"]),
    ];
    same_replies(&ours, &real, cases);
    for s in [&ours, &real] {
        let mut c = RawConn::connect(s.port);
        let p = c.cmd(&["ACL", "GENPASS", "5"]);
        assert!(
            common::show(&p).starts_with("$2\\r\\n"),
            "{}",
            common::show(&p)
        );
    }
}

#[test]
fn acl_restricted_user_gets_noperm_like_redis_sentinel() {
    use Cmp::*;
    let (ours, real) = sentinel_pair();
    let setup: &[&str] = &[
        "ACL",
        "SETUSER",
        "r",
        "on",
        ">pw",
        "+ping",
        "+sentinel|myid",
        "+subscribe",
        "+psubscribe",
        "+publish",
        "+acl|whoami",
        "&news.*",
        "&pat*",
    ];
    for s in [&ours, &real] {
        let mut c = RawConn::connect(s.port);
        assert_eq!(common::show(&c.cmd(setup)), "+OK\\r\\n");
    }
    let cases: &[(Cmp, &[&str])] = &[
        (Exact, &["AUTH", "r", "wrong"]),
        (Exact, &["AUTH", "nosuch", "pw"]),
        (Exact, &["AUTH", "r", "pw"]),
        (Exact, &["ACL", "WHOAMI"]),
        (Exact, &["PING"]),
        (Exact, &["SENTINEL", "MASTERS"]),
        (Exact, &["SENTINEL", "MYID", "x"]),
        (Exact, &["SENTINEL", "NOSUCH"]),
        (Exact, &["SENTINEL", "MASTERS", "x"]),
        (Exact, &["INFO"]),
        (Exact, &["ROLE"]),
        (Exact, &["ACL", "LIST"]),
        (Exact, &["CLIENT", "ID"]),
        (Exact, &["COMMAND", "COUNT"]),
        (Exact, &["GET", "k"]),
        (Exact, &["PUBLISH", "__sentinel__:hello", "x"]),
        (Exact, &["PUBLISH", "news.1", "x"]),
        (Exact, &["SUBSCRIBE", "other"]),
        (Exact, &["PSUBSCRIBE", "pat"]),
        (Exact, &["SUBSCRIBE", "news.1", "news.2"]),
        (Exact, &["PSUBSCRIBE", "pat*"]),
        (Exact, &["SUBSCRIBE", "news.3", "elsewhere"]),
        (Exact, &["UNSUBSCRIBE", "elsewhere"]),
        (Exact, &["PUNSUBSCRIBE"]),
        (Exact, &["UNSUBSCRIBE"]),
        (Exact, &["AUTH", "default", "x"]),
        (Exact, &["SENTINEL", "MASTERS"]),
    ];
    same_replies(&ours, &real, cases);
    // The denials and failed AUTHs are in ACL LOG the same way (age and client info aside).
    let log = |s: &Sentinel| -> Vec<Vec<String>> {
        let mut c = RawConn::connect(s.port);
        let common::Reply::Array(Some(entries)) = c.cmd_reply(&["ACL", "LOG", "100"]) else {
            panic!("ACL LOG is not an array");
        };
        entries
            .iter()
            .map(|e| {
                let common::Reply::Array(Some(f)) = e else {
                    panic!("entry is not an array: {e:?}");
                };
                f.chunks(2)
                    .filter(|kv| !matches!(&kv[0], common::Reply::Bulk(Some(k)) if k == b"age-seconds" || k == b"client-info"))
                    .map(|kv| format!("{:?}={:?}", kv[0], kv[1]))
                    .collect()
            })
            .collect()
    };
    let ours_log = log(&ours);
    assert!(ours_log.len() > 5, "{ours_log:?}");
    assert_eq!(ours_log, log(&real));
    // A disabled user can no longer authenticate; HELLO AUTH goes through the users too.
    for s in [&ours, &real] {
        let mut c = RawConn::connect(s.port);
        assert_eq!(
            common::show(&c.cmd(&["ACL", "SETUSER", "r", "off"])),
            "+OK\\r\\n"
        );
        assert_eq!(
            common::show(&c.cmd(&["HELLO", "2", "AUTH", "r", "pw"])),
            "-WRONGPASS invalid username-password pair or user is disabled.\\r\\n"
        );
        c.cmd(&["ACL", "SETUSER", "r", "on"]);
        let hello = common::show(&c.cmd(&["HELLO", "2", "AUTH", "r", "pw"]));
        assert!(hello.starts_with("*12\\r\\n"), "{hello}");
        assert_eq!(common::show(&c.cmd(&["ACL", "WHOAMI"])), "$1\\r\\nr\\r\\n");
        assert_eq!(
            common::show(&c.cmd(&["ROLE"])),
            "-NOPERM this user has no permissions to run the 'role' command\\r\\n"
        );
    }
}

/// `user` lines of the config file: loaded at startup (the default user is reset first),
/// written back by the config rewrite with the users' current rules; a bad rule stops startup.
#[test]
fn acl_users_in_config_file_like_redis_sentinel() {
    let nobody = free_port();
    let extra = "user alice on >pw +ping resetchannels &x*\nuser default on nopass ~* &* +@all\nacl-pubsub-default allchannels\n";
    let ours = Sentinel::start(SENTINEL_BIN, nobody, extra);
    let real = Sentinel::start("/usr/bin/redis-server", nobody, extra);
    same_replies(
        &ours,
        &real,
        &[
            (Cmp::Exact, &["ACL", "LIST"]),
            (
                Cmp::Exact,
                &["ACL", "SETUSER", "bob", "on", "nopass", "+@all", "-@admin"],
            ),
            (Cmp::Exact, &["ACL", "GETUSER", "bob"]),
            (Cmp::Exact, &["ACL", "DELUSER", "bob"]),
            (Cmp::Exact, &["ACL", "SETUSER", "carol", "reset"]),
            (Cmp::Exact, &["ACL", "GETUSER", "carol"]),
        ],
    );
    // A state change flushes the config: the user lines are the same on both.
    let users = |s: &Sentinel| -> Vec<String> {
        std::fs::read_to_string(&s.conf)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("user "))
            .map(str::to_string)
            .collect()
    };
    for s in [&ours, &real] {
        assert_eq!(
            s.cli(&["SENTINEL", "SET", "mymaster", "quorum", "1"]),
            "OK\n"
        );
    }
    assert!(
        wait_until(Duration::from_secs(10), || users(&ours) == users(&real)
            && users(&ours).iter().any(|l| l.starts_with("user carol "))),
        "{:?} vs {:?}",
        users(&ours),
        users(&real)
    );
    // After a restart the users come back from the file.
    let before = ours.cli(&["ACL", "LIST"]);
    let mut ours = ours;
    ours.stop();
    ours.spawn();
    assert_eq!(ours.cli(&["ACL", "LIST"]), before);
    // A rule Redis rejects stops startup with Redis's log lines.
    let bad = TestDir::new();
    let conf = bad.join("s.conf");
    let log = bad.join("s.log");
    std::fs::write(
        &conf,
        format!(
            "port {}\nlogfile {}\nuser bob on +nosuch\nsentinel monitor m 127.0.0.1 {nobody} 2\n",
            free_port(),
            log.display()
        ),
    )
    .unwrap();
    let out = common::run_bounded(10, SENTINEL_BIN, &[&conf.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("Error loading ACL rule '+nosuch' for the user named 'bob': Unknown command or category name in ACL")
            && text.contains("Critical error while loading ACLs. Exiting."),
        "{text}"
    );
}

/// Narrowing a user's channels closes its connections subscribed to what is no longer
/// allowed (and only those); deleting a user closes its connections. Same on both.
#[test]
fn acl_revocation_closes_connections_like_redis_sentinel() {
    let (ours, real) = sentinel_pair();
    for s in [&ours, &real] {
        let mut admin = RawConn::connect(s.port);
        let ok = |r: Vec<u8>| assert_eq!(common::show(&r), "+OK\\r\\n");
        ok(admin.cmd(&[
            "ACL", "SETUSER", "k", "on", ">pw", "+@all", "&news.*", "&p*",
        ]));
        let mut chan = RawConn::connect(s.port);
        ok(chan.cmd(&["AUTH", "k", "pw"]));
        chan.cmd(&["SUBSCRIBE", "news.1"]);
        let mut pat = RawConn::connect(s.port);
        ok(pat.cmd(&["AUTH", "k", "pw"]));
        pat.cmd(&["PSUBSCRIBE", "p*"]);
        // Adding a channel revokes nothing.
        ok(admin.cmd(&["ACL", "SETUSER", "k", "&q"]));
        assert!(common::show(&chan.cmd(&["PING"])).starts_with("*2\\r\\n$4\\r\\npong"));
        assert!(common::show(&pat.cmd(&["PING"])).starts_with("*2\\r\\n$4\\r\\npong"));
        // Dropping p*: the pattern subscriber goes, the channel subscriber stays.
        ok(admin.cmd(&["ACL", "SETUSER", "k", "resetchannels", "&news.*"]));
        assert!(
            pat.is_closed(Duration::from_secs(5)),
            "pattern subscriber kept"
        );
        assert!(common::show(&chan.cmd(&["PING"])).starts_with("*2\\r\\n$4\\r\\npong"));
        // Deleting the user closes the rest.
        assert_eq!(
            common::show(&admin.cmd(&["ACL", "DELUSER", "k"])),
            ":1\\r\\n"
        );
        assert!(
            chan.is_closed(Duration::from_secs(5)),
            "deleted user's connection kept"
        );
        assert_eq!(common::show(&admin.cmd(&["PING"])), "+PONG\\r\\n");
    }
}

/// CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO: option checks, state and replies.
#[test]
fn client_tracking_replies_match_redis_sentinel() {
    use Cmp::*;
    let (ours, real) = sentinel_pair();
    let cases: &[(Cmp, &[&str])] = &[
        (Exact, &["CLIENT", "TRACKINGINFO"]),
        (Exact, &["CLIENT", "GETREDIR"]),
        (Exact, &["CLIENT", "CACHING", "yes"]),
        (Exact, &["CLIENT", "TRACKING"]),
        (Exact, &["CLIENT", "TRACKING", "maybe"]),
        (Exact, &["CLIENT", "TRACKING", "on", "prefix", "x"]),
        (Exact, &["CLIENT", "TRACKING", "on", "bcast", "optin"]),
        (Exact, &["CLIENT", "TRACKING", "on", "optin", "optout"]),
        (Exact, &["CLIENT", "TRACKING", "on", "redirect", "x"]),
        (Exact, &["CLIENT", "TRACKING", "on", "redirect"]),
        (Exact, &["CLIENT", "TRACKING", "on", "redirect", "987654"]),
        (Exact, &["CLIENT", "TRACKING", "on", "bcast"]),
        (Exact, &["CLIENT", "TRACKINGINFO"]),
        (Exact, &["CLIENT", "TRACKING", "on", "bcast", "prefix", "a"]),
        (Exact, &["CLIENT", "TRACKING", "on", "optin"]),
        (Exact, &["CLIENT", "TRACKING", "off"]),
        (
            Exact,
            &[
                "CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "ab",
            ],
        ),
        (
            Exact,
            &[
                "CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "b", "prefix", "bc",
            ],
        ),
        (Exact, &["CLIENT", "TRACKINGINFO"]),
        (Exact, &["CLIENT", "TRACKING", "off"]),
        (Exact, &["CLIENT", "TRACKING", "on", "optin", "noloop"]),
        (Exact, &["CLIENT", "TRACKING", "on", "optout"]),
        (Exact, &["CLIENT", "CACHING", "no"]),
        (Exact, &["CLIENT", "CACHING", "maybe"]),
        (Exact, &["CLIENT", "CACHING", "yes"]),
        (Exact, &["CLIENT", "TRACKINGINFO"]),
        (Exact, &["PING"]),
        (Exact, &["CLIENT", "TRACKINGINFO"]),
        (Exact, &["CLIENT", "GETREDIR"]),
        (Exact, &["CLIENT", "TRACKING", "off"]),
        (Exact, &["CLIENT", "GETREDIR"]),
    ];
    same_replies(&ours, &real, cases);
    // REDIRECT to a connected client (ids differ between the two servers).
    for s in [&ours, &real] {
        let mut c = RawConn::connect(s.port);
        let id = match c.cmd_reply(&["CLIENT", "ID"]) {
            common::Reply::Integer(n) => n.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            common::show(&c.cmd(&["CLIENT", "TRACKING", "on", "redirect", &id])),
            "+OK\\r\\n"
        );
        assert_eq!(
            common::show(&c.cmd(&["CLIENT", "TRACKING", "on", "redirect", &id, "redirect", &id])),
            "-ERR A client can only redirect to a single other client\\r\\n"
        );
        assert_eq!(
            common::show(&c.cmd(&["CLIENT", "GETREDIR"])),
            format!(":{id}\\r\\n")
        );
    }
}

/// `aclfile`: users loaded from it at startup, ACL SAVE writes it, ACL LOAD replaces every
/// user (closing their connections) or changes nothing and reports the errors.
#[test]
fn acl_file_load_and_save_like_redis_sentinel() {
    use Cmp::*;
    let nobody = free_port();
    let files = TestDir::new();
    let start = |bin: &str, name: &str| {
        let path = files.join(name);
        // One single-command rule: Redis lists several in its randomly seeded dict order.
        std::fs::write(&path, "user alice on >pw +acl|whoami\n").unwrap();
        (
            Sentinel::start(bin, nobody, &format!("aclfile {}\n", path.display())),
            path,
        )
    };
    let (ours, ours_file) = start(SENTINEL_BIN, "ours.acl");
    let (real, real_file) = start("/usr/bin/redis-server", "real.acl");
    same_replies(
        &ours,
        &real,
        &[
            (Exact, &["ACL", "LIST"]),
            (
                Exact,
                &["ACL", "SETUSER", "bob", "on", "nopass", "-@all", "+ping"],
            ),
            (Exact, &["ACL", "SAVE"]),
            (Exact, &["ACL", "SETUSER", "carol", "on"]),
            (Exact, &["ACL", "LOAD"]),
            (Exact, &["ACL", "LIST"]),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&ours_file).unwrap(),
        std::fs::read_to_string(&real_file).unwrap()
    );
    for (s, file) in [(&ours, &ours_file), (&real, &real_file)] {
        // A connection authenticated as a file user is closed by a successful ACL LOAD.
        let mut alice = RawConn::connect(s.port);
        assert_eq!(
            common::show(&alice.cmd(&["AUTH", "alice", "pw"])),
            "+OK\\r\\n"
        );
        let mut admin = RawConn::connect(s.port);
        assert_eq!(common::show(&admin.cmd(&["ACL", "LOAD"])), "+OK\\r\\n");
        assert!(
            alice.is_closed(Duration::from_secs(5)),
            "alice's connection kept"
        );
        // A bad file changes nothing.
        std::fs::write(file, "user x bogus\nfoo\n").unwrap();
        let e = common::show(&admin.cmd(&["ACL", "LOAD"]));
        let name = file.display().to_string();
        assert_eq!(
            e,
            format!("-ERR {name}:1: Syntax error. {name}:2 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\\r\\n")
        );
        assert_eq!(
            common::show(&admin.cmd(&["ACL", "USERS"])),
            "*3\\r\\n$5\\r\\nalice\\r\\n$3\\r\\nbob\\r\\n$7\\r\\ndefault\\r\\n"
        );
    }
}
