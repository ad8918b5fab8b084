//! The high-availability layout (1 master + 2 replicas + 3 sentinels, quorum 2) started by
//! scripts/ha-local: a real redis-server master with ringkv replicas, and ringkv everywhere,
//! under ringkv, redis and mixed sentinels. Checks discovery (SENTINEL REPLICAS and SENTINELS on
//! every sentinel), INFO replication as the sentinels see it, `status`, `stop` by pid, that
//! replica-priority decides which replica a failover promotes, and the whole kill -9 story on
//! ringkv nodes: promotion, repointing, agreement, no loss of a write both replicas had,
//! +switch-master, CONFIG REWRITE of the nodes' files, the old master rejoining as a replica.
//! Every process is stopped by pid (the script's `stop`, also when a test fails); every wait is
//! bounded.

mod common;

use common::{
    kill_pid, pid_alive, redis_cli, run_bounded, signal, wait_until, RawConn, ReadError, TestDir,
};
use std::time::Duration;

const PASS: &str = "change-me-ha-secret";
const RINGKV_SERVER: &str = env!("CARGO_BIN_EXE_ringkv-server");
const RINGKV_SENTINEL: &str = env!("CARGO_BIN_EXE_ringkv-sentinel");

fn script() -> String {
    format!("{}/scripts/ha-local", env!("CARGO_MANIFEST_DIR"))
}

struct Node {
    name: String,
    kind: String,
    port: u16,
    pid: u32,
}

/// A layout started by `ha-local start`; `ha-local stop` on drop.
struct Layout {
    dir: TestDir,
    nodes: Vec<Node>,
}

impl Layout {
    fn start(master: &str, replicas: &str, sentinels: &str, priorities: &str) -> Layout {
        let dir = TestDir::new();
        let d = dir.path_str();
        let out = run_bounded(
            120,
            &script(),
            &[
                "start",
                "--dir",
                &d,
                "--master",
                master,
                "--replicas",
                replicas,
                "--sentinels",
                sentinels,
                "--priorities",
                priorities,
                "--ringkv-server",
                RINGKV_SERVER,
                "--ringkv-sentinel",
                RINGKV_SENTINEL,
                // A full sync starts at once instead of after Redis's 5 s default.
                "--repl-diskless-sync-delay",
                "0",
            ],
        );
        let mut layout = Layout {
            dir,
            nodes: Vec::new(),
        };
        layout.read_nodes();
        assert!(
            out.status.success(),
            "ha-local start failed: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(layout.nodes.len(), 6, "layout file lists 6 processes");
        layout
    }

    fn read_nodes(&mut self) {
        let text = std::fs::read_to_string(self.dir.join("layout")).unwrap_or_default();
        self.nodes = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 4).then(|| Node {
                    name: f[0].to_string(),
                    kind: f[1].to_string(),
                    port: f[2].parse().unwrap(),
                    pid: f[3].parse().unwrap(),
                })
            })
            .collect();
    }

    fn node(&self, name: &str) -> &Node {
        self.nodes.iter().find(|n| n.name == name).unwrap()
    }

    fn sentinels(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.name.starts_with("sentinel"))
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            s.push_str(&format!("--- {} ({}) ---\n", n.name, n.kind));
            s.push_str(&self.log_tail(&n.name, 15));
        }
        s
    }

    /// The last `lines` lines of node `name`'s log, each ending in a newline.
    fn log_tail(&self, name: &str, lines: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(&format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        tail.into_iter().rev().map(|l| format!("{l}\n")).collect()
    }

    /// What a failure message needs to tell where a rejoin stopped: both nodes' replication
    /// sections, the old master's log, and every sentinel's view of the master and replicas.
    fn views(&self, old: u16, new: u16) -> String {
        let mut s = String::new();
        for port in [old, new] {
            s.push_str(&format!(
                "--- INFO replication of {port} ---\n{}\n",
                auth_cli(port, &["INFO", "replication"])
            ));
        }
        if let Some(n) = self.nodes.iter().find(|n| n.port == old) {
            s.push_str(&format!("--- the end of {}.log ---\n", n.name));
            s.push_str(&self.log_tail(&n.name, 40));
        }
        for x in self.sentinels() {
            for what in ["master", "replicas"] {
                s.push_str(&format!(
                    "--- SENTINEL {what} mymaster on {} ---\n{}",
                    x.port,
                    cli(x.port, &["SENTINEL", what, "mymaster"]).replace('\n', " ")
                ));
                s.push('\n');
            }
        }
        s
    }

    fn run(&self, cmd: &str) -> String {
        let out = run_bounded(60, &script(), &[cmd, "--dir", &self.dir.path_str()]);
        assert!(out.status.success(), "ha-local {cmd}: {}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ha-local restart NAME`: the node starts again from its (rewritten) config file.
    fn restart(&mut self, name: &str) {
        let out = run_bounded(
            60,
            &script(),
            &["restart", name, "--dir", &self.dir.path_str()],
        );
        self.read_nodes();
        assert!(
            out.status.success(),
            "ha-local restart {name}: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn conf(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(&format!("{name}.conf"))).unwrap_or_default()
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = run_bounded(60, &script(), &["stop", "--dir", &self.dir.path_str()]);
        for n in &self.nodes {
            if pid_alive(n.pid) {
                kill_pid(n.pid);
            }
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    String::from_utf8_lossy(&redis_cli(port, args).stdout).into_owned()
}

fn auth_cli(port: u16, args: &[&str]) -> String {
    let mut full = vec!["-a", PASS, "--no-auth-warning"];
    full.extend_from_slice(args);
    cli(port, &full)
}

/// Number of entries of a SENTINEL REPLICAS/SENTINELS reply.
fn count(port: u16, what: &str) -> usize {
    cli(port, &["SENTINEL", what, "mymaster"])
        .lines()
        .filter(|l| *l == "name")
        .count()
}

fn field(reply: &str, name: &str) -> Option<String> {
    reply
        .lines()
        .skip_while(|l| *l != name)
        .nth(1)
        .map(str::to_string)
}

/// Waits until every sentinel knows both replicas (link ok) and the two other sentinels, and
/// both replicas are in sync with the master.
fn wait_discovery(l: &Layout) {
    let ok = wait_until(Duration::from_secs(60), || {
        l.sentinels().all(|s| {
            count(s.port, "replicas") == 2
                && count(s.port, "sentinels") == 2
                && cli(s.port, &["SENTINEL", "replicas", "mymaster"])
                    .matches("master-link-status\nok\n")
                    .count()
                    == 2
        })
    });
    assert!(ok, "discovery incomplete:\n{}", l.logs());
}

fn check_layout(master: &str, sentinels: &str) {
    let l = Layout::start(master, "ringkv,ringkv", sentinels, "100,100");
    wait_discovery(&l);
    let m = l.node("master");
    let info = auth_cli(m.port, &["INFO", "replication"]);
    assert!(info.contains("connected_slaves:2\r\n"), "{info}");
    for r in ["replica1", "replica2"] {
        let r = l.node(r);
        let info = auth_cli(r.port, &["INFO", "replication"]);
        assert!(info.contains("role:slave\r\n"), "{info}");
        assert!(
            info.contains(&format!("master_port:{}\r\n", m.port)),
            "{info}"
        );
        assert!(info.contains("master_link_status:up\r\n"), "{info}");
    }
    // A write on the master reaches both replicas.
    assert_eq!(auth_cli(m.port, &["SET", "ha", "one"]), "OK\n");
    for r in ["replica1", "replica2"] {
        let port = l.node(r).port;
        assert!(
            wait_until(Duration::from_secs(20), || auth_cli(port, &["GET", "ha"])
                == "one\n"),
            "{r} did not get the write"
        );
    }
    for s in l.sentinels() {
        assert_eq!(
            cli(s.port, &["SENTINEL", "get-master-addr-by-name", "mymaster"]),
            format!("127.0.0.1\n{}\n", m.port),
            "{}",
            s.name
        );
        let master = cli(s.port, &["SENTINEL", "master", "mymaster"]);
        assert_eq!(
            field(&master, "flags").as_deref(),
            Some("master"),
            "{master}"
        );
        assert_eq!(
            field(&master, "num-slaves").as_deref(),
            Some("2"),
            "{master}"
        );
        assert_eq!(field(&master, "num-other-sentinels").as_deref(), Some("2"));
        // What the sentinel read from each replica's INFO replication.
        let replicas = cli(s.port, &["SENTINEL", "replicas", "mymaster"]);
        assert_eq!(
            replicas.matches("\nflags\nslave\n").count(),
            2,
            "{replicas}"
        );
        assert_eq!(
            replicas
                .matches(&format!("master-port\n{}\n", m.port))
                .count(),
            2,
            "{replicas}"
        );
        assert_eq!(replicas.matches("slave-priority\n100\n").count(), 2);
        let ports: Vec<String> = ["replica1", "replica2"]
            .iter()
            .map(|r| l.node(r).port.to_string())
            .collect();
        for p in &ports {
            assert!(replicas.contains(&format!("port\n{p}\n")), "{replicas}");
        }
        let ckq = cli(s.port, &["SENTINEL", "ckquorum", "mymaster"]);
        assert!(ckq.starts_with("OK 3 usable Sentinels"), "{ckq}");
    }
    let status = l.run("status");
    for n in &l.nodes {
        assert!(
            status.contains(&format!(
                "{:<10} {:<7} {:<6} {:<8}",
                n.name, n.kind, n.port, n.pid
            )),
            "{status}"
        );
    }
    assert_eq!(
        status.matches("replicas=2 sentinels=2").count(),
        3,
        "{status}"
    );
    assert_eq!(
        status.matches("master_link_status:up").count(),
        2,
        "{status}"
    );
    let stopped = l.run("stop");
    assert!(stopped.contains("stopped"), "{stopped}");
    for n in &l.nodes {
        assert!(
            !pid_alive(n.pid),
            "{} (pid {}) survived stop",
            n.name,
            n.pid
        );
    }
}

#[test]
fn redis_master_ringkv_replicas_under_ringkv_sentinels() {
    check_layout("redis", "ringkv,ringkv,ringkv");
}

#[test]
fn redis_master_ringkv_replicas_under_redis_sentinels() {
    check_layout("redis", "redis,redis,redis");
}

#[test]
fn redis_master_ringkv_replicas_under_mixed_sentinels() {
    check_layout("redis", "ringkv,redis,ringkv");
}

/// kill -9 of the master: the sentinels promote the replica with the lower replica-priority
/// (replica2, 10 against 100), whatever the run ids.
fn priority_decides(sentinels: &str) {
    let l = Layout::start("redis", "ringkv,ringkv", sentinels, "100,10");
    wait_discovery(&l);
    let m = l.node("master");
    let r2 = l.node("replica2").port;
    signal(m.pid, libc::SIGKILL);
    let want = format!("127.0.0.1\n{r2}\n");
    let switched = wait_until(Duration::from_secs(60), || {
        l.sentinels()
            .all(|s| cli(s.port, &["SENTINEL", "get-master-addr-by-name", "mymaster"]) == want)
    });
    assert!(switched, "replica2 not promoted:\n{}", l.logs());
    assert!(
        wait_until(Duration::from_secs(20), || auth_cli(r2, &["ROLE"])
            .starts_with("master\n")),
        "replica2 is not a master:\n{}",
        l.logs()
    );
    // The promoted replica takes writes.
    assert_eq!(auth_cli(r2, &["SET", "after", "failover"]), "OK\n");
    // Its files were rewritten by the sentinel: no replicaof line any more.
    let conf = std::fs::read_to_string(l.dir.join("replica2.conf")).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || !std::fs::read_to_string(
            l.dir.join("replica2.conf")
        )
        .unwrap_or_default()
        .lines()
        .any(|line| line.starts_with("replicaof "))),
        "replica2.conf still has replicaof:\n{conf}"
    );
    // replica1 is told to follow the new master.
    let r1 = l.node("replica1").port;
    assert!(
        wait_until(Duration::from_secs(30), || auth_cli(
            r1,
            &["INFO", "replication"]
        )
        .contains(&format!("master_port:{r2}\r\n"))),
        "replica1 not repointed:\n{}",
        l.logs()
    );
}

#[test]
fn replica_priority_decides_promotion_ringkv_sentinels() {
    priority_decides("ringkv,ringkv,ringkv");
}

#[test]
fn replica_priority_decides_promotion_redis_sentinels() {
    priority_decides("redis,redis,redis");
}

/// The `name:value` field of an INFO reply.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim_end().to_string())
}

fn info_num(port: u16, name: &str) -> i64 {
    info_field(&auth_cli(port, &["INFO", "replication"]), name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

fn replicaof_lines(conf: &str) -> Vec<String> {
    conf.lines()
        .filter(|l| l.starts_with("replicaof "))
        .map(str::to_string)
        .collect()
}

/// Everything after SUBSCRIBE on `conn` until `needle` shows up (bounded by `timeout`).
fn wait_message(conn: &mut RawConn, needle: &str, timeout: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = String::new();
    while std::time::Instant::now() < deadline {
        match conn.read_reply_bytes(Duration::from_millis(500)) {
            Ok(bytes) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if seen.contains(needle) {
                    return Ok(());
                }
            }
            Err(ReadError::Timeout) => {}
            Err(e) => return Err(format!("{e:?} after {seen:?}")),
        }
    }
    Err(format!("no {needle:?} in {seen:?}"))
}

/// ringkv master + 2 ringkv replicas under `sentinels`: kill -9 of the master and everything a
/// user expects afterwards.
fn ringkv_failover(sentinels: &str) {
    let mut l = Layout::start("ringkv", "ringkv,ringkv", sentinels, "100,100");
    wait_discovery(&l);
    let old = l.node("master").port;
    let replicas = [l.node("replica1").port, l.node("replica2").port];
    let mut sub = RawConn::connect(l.node("sentinel1").port);
    let reply = String::from_utf8_lossy(&sub.cmd(&["SUBSCRIBE", "+switch-master"])).into_owned();
    assert!(reply.contains("+switch-master"), "{reply}");

    // Writes that both replicas have, by offset, before the kill.
    for i in 0..50 {
        assert_eq!(
            auth_cli(old, &["SET", &format!("k{i}"), &format!("v{i}")]),
            "OK\n"
        );
    }
    assert_eq!(auth_cli(old, &["INCRBY", "counter", "41"]), "41\n");
    let offset = info_num(old, "master_repl_offset");
    assert!(offset > 0);
    for port in replicas {
        assert!(
            wait_until(Duration::from_secs(20), || info_num(
                port,
                "slave_repl_offset"
            ) >= offset),
            "replica {port} did not reach offset {offset}:\n{}",
            l.logs()
        );
    }
    let info = auth_cli(old, &["INFO", "replication"]);
    for n in 0..2 {
        let line = info_field(&info, &format!("slave{n}")).unwrap_or_default();
        assert!(line.contains("state=online"), "{info}");
    }

    signal(l.node("master").pid, libc::SIGKILL);
    let old_pid = l.node("master").pid;
    assert!(wait_until(Duration::from_secs(10), || !pid_alive(old_pid)));

    // All sentinels agree on one of the replicas.
    let mut new = 0u16;
    let agreed = wait_until(Duration::from_secs(60), || {
        let addrs: Vec<String> = l
            .sentinels()
            .map(|s| cli(s.port, &["SENTINEL", "get-master-addr-by-name", "mymaster"]))
            .collect();
        let first = &addrs[0];
        if addrs.iter().any(|a| a != first) {
            return false;
        }
        match replicas
            .iter()
            .find(|p| *first == format!("127.0.0.1\n{p}\n"))
        {
            Some(p) => {
                new = *p;
                true
            }
            None => false,
        }
    });
    assert!(
        agreed,
        "the sentinels did not agree on a new master:\n{}",
        l.logs()
    );
    let other = *replicas.iter().find(|p| **p != new).unwrap();
    let (new_name, other_name) = if new == replicas[0] {
        ("replica1", "replica2")
    } else {
        ("replica2", "replica1")
    };
    wait_message(
        &mut sub,
        &format!("mymaster 127.0.0.1 {old} 127.0.0.1 {new}"),
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("+switch-master: {e}\n{}", l.logs()));

    // Exactly one promoted; the other follows it.
    assert!(
        wait_until(Duration::from_secs(20), || auth_cli(new, &["ROLE"])
            .starts_with("master\n")),
        "{new_name} is not a master:\n{}",
        l.logs()
    );
    assert!(
        wait_until(Duration::from_secs(30), || {
            let info = auth_cli(other, &["INFO", "replication"]);
            info.contains("role:slave\r\n")
                && info.contains(&format!("master_port:{new}\r\n"))
                && info.contains("master_link_status:up\r\n")
        }),
        "{other_name} does not follow {new_name}:\n{}",
        l.logs()
    );
    // Nothing both replicas had is lost.
    for i in 0..50 {
        assert_eq!(auth_cli(new, &["GET", &format!("k{i}")]), format!("v{i}\n"));
    }
    assert_eq!(auth_cli(new, &["INCR", "counter"]), "42\n");
    assert_eq!(auth_cli(new, &["SET", "after", "failover"]), "OK\n");
    assert!(
        wait_until(Duration::from_secs(20), || auth_cli(
            other,
            &["GET", "after"]
        ) == "failover\n"),
        "{other_name} did not get the new master's write:\n{}\n{}\n{}",
        auth_cli(new, &["INFO", "replication"]),
        auth_cli(other, &["INFO", "replication"]),
        l.logs()
    );

    // The sentinels' CONFIG REWRITE reached both files.
    assert!(
        wait_until(Duration::from_secs(10), || replicaof_lines(
            &l.conf(new_name)
        )
        .is_empty()),
        "{new_name}.conf still has replicaof:\n{}",
        l.conf(new_name)
    );
    let want = vec![format!("replicaof 127.0.0.1 {new}")];
    assert!(
        wait_until(Duration::from_secs(10), || replicaof_lines(
            &l.conf(other_name)
        ) == want),
        "{other_name}.conf:\n{}",
        l.conf(other_name)
    );
    assert!(replicaof_lines(&l.conf("master")).is_empty());

    // The old master, started again from its file, is turned into a replica of the new one
    // and gets its data; its file gets the replicaof line.
    l.restart("master");
    assert!(
        wait_until(Duration::from_secs(60), || {
            let info = auth_cli(old, &["INFO", "replication"]);
            info.contains("role:slave\r\n")
                && info.contains(&format!("master_port:{new}\r\n"))
                && info.contains("master_link_status:up\r\n")
        }),
        "the old master did not rejoin:\n{}\n{}",
        l.logs(),
        l.views(old, new)
    );
    assert!(
        wait_until(Duration::from_secs(20), || auth_cli(old, &["GET", "after"])
            == "failover\n"),
        "the old master did not get the new master's data:\n{}\n{}",
        auth_cli(old, &["INFO", "replication"]),
        l.logs()
    );
    assert_eq!(auth_cli(old, &["GET", "counter"]), "42\n");
    assert!(
        wait_until(Duration::from_secs(10), || replicaof_lines(
            &l.conf("master")
        ) == want),
        "master.conf:\n{}",
        l.conf("master")
    );
    // Every sentinel sees the new master with both replicas, the old master among them.
    let ok = wait_until(Duration::from_secs(30), || {
        l.sentinels().all(|s| {
            let reply = cli(s.port, &["SENTINEL", "replicas", "mymaster"]);
            reply.contains(&format!("port\n{old}\n"))
                && reply.contains(&format!("port\n{other}\n"))
                && reply.matches("\nflags\nslave\n").count() == 2
                && reply.matches(&format!("master-port\n{new}\n")).count() == 2
        })
    });
    assert!(ok, "sentinels' replicas after the rejoin:\n{}", l.logs());
    let new_info = auth_cli(new, &["INFO", "replication"]);
    assert!(new_info.contains("connected_slaves:2\r\n"), "{new_info}");
}

#[test]
fn ringkv_nodes_fail_over_under_ringkv_sentinels() {
    ringkv_failover("ringkv,ringkv,ringkv");
}

#[test]
fn ringkv_nodes_fail_over_under_redis_sentinels() {
    ringkv_failover("redis,redis,redis");
}

#[test]
fn ringkv_nodes_fail_over_under_mixed_sentinels() {
    ringkv_failover("redis,ringkv,redis");
}
