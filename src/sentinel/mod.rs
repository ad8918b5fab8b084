//! Redis Sentinel 7.0 on one glommio executor (`ringkv-sentinel sentinel.conf`, or
//! `ringkv-server sentinel.conf --sentinel`). It shares the data node's listener, connection
//! loop, RESP codec and pub/sub registry, and brings its own command table ([`commands`]).
//!
//! Map:
//! - this file: the state (masters, their replicas and sentinels), events, timing constants;
//! - [`config`]: `sentinel ...` directives and the state block written back with fsync;
//! - [`links`]: the outbound links to instances (PING/INFO/PUBLISH hello, INFO parsing, hello
//!   processing, the SLAVEOF transaction, is-master-down-by-addr asks);
//! - [`failover`]: the timer: TILT, SDOWN/ODOWN, leader election, the failover state machine;
//! - [`scripts`]: notification-script / client-reconfig-script jobs;
//! - [`acl`]: sentinel's users (AUTH, ACL SETUSER/DELUSER/WHOAMI/USERS);
//! - [`commands`]: the server side (SENTINEL ..., INFO, ROLE, PUBLISH, ...);
//! - [`run`]: process wiring.

pub mod acl;
pub mod cmdtable;
pub mod commands;
pub mod config;
pub mod failover;
pub mod links;
pub mod run;
pub mod scripts;

use crate::server::log::Level;
use std::cell::RefCell;
use std::rc::Rc;

/// Milliseconds since the unix epoch (Redis `mstime()`).
pub type Ms = i64;

pub fn mstime() -> Ms {
    crate::keyspace::now_ms()
}

/// Timing constants, changeable with `SENTINEL DEBUG` (names as Redis lists them).
#[derive(Clone, Debug)]
pub struct Timings {
    pub info_period: Ms,
    pub ping_period: Ms,
    pub ask_period: Ms,
    pub publish_period: Ms,
    pub default_down_after: Ms,
    pub default_failover_timeout: Ms,
    pub tilt_trigger: Ms,
    pub tilt_period: Ms,
    pub slave_reconf_timeout: Ms,
    pub min_link_reconnect_period: Ms,
    pub election_timeout: Ms,
    pub script_max_runtime: Ms,
    pub script_retry_delay: Ms,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            info_period: 10_000,
            ping_period: 1000,
            ask_period: 1000,
            publish_period: 2000,
            default_down_after: 30_000,
            default_failover_timeout: 180_000,
            tilt_trigger: 2000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

impl Timings {
    /// (name, field) pairs in the order SENTINEL DEBUG lists them.
    pub fn fields(&mut self) -> [(&'static str, &mut Ms); 13] {
        [
            ("INFO-PERIOD", &mut self.info_period),
            ("PING-PERIOD", &mut self.ping_period),
            ("ASK-PERIOD", &mut self.ask_period),
            ("PUBLISH-PERIOD", &mut self.publish_period),
            ("DEFAULT-DOWN-AFTER", &mut self.default_down_after),
            (
                "DEFAULT-FAILOVER-TIMEOUT",
                &mut self.default_failover_timeout,
            ),
            ("TILT-TRIGGER", &mut self.tilt_trigger),
            ("TILT-PERIOD", &mut self.tilt_period),
            ("SLAVE-RECONF-TIMEOUT", &mut self.slave_reconf_timeout),
            (
                "MIN-LINK-RECONNECT-PERIOD",
                &mut self.min_link_reconnect_period,
            ),
            ("ELECTION-TIMEOUT", &mut self.election_timeout),
            ("SCRIPT-MAX-RUNTIME", &mut self.script_max_runtime),
            ("SCRIPT-RETRY-DELAY", &mut self.script_retry_delay),
        ]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Master,
    Replica,
    Sentinel,
}

/// The state of one outbound command link (hiredis context + Redis's `instanceLink`).
#[derive(Clone, Debug, Default)]
pub struct Link {
    pub connected: bool,
    pub pending_commands: u32,
    /// Time of the oldest PING not answered yet (0: none pending).
    pub act_ping_time: Ms,
    pub last_ping_time: Ms,
    pub last_pong_time: Ms,
    pub last_avail_time: Ms,
    pub last_reconn_time: Ms,
    /// The local address of the link's socket, announced in hellos when no announce-ip is set.
    pub local_ip: Option<String>,
    pub pubsub_connected: bool,
}

/// A monitored master, one of its replicas, or another sentinel (`sentinelRedisInstance`).
#[derive(Clone, Debug)]
pub struct Instance {
    /// Unique for the process lifetime; a link task serves exactly one id and ends when the
    /// instance is gone (removed, reset or re-addressed).
    pub id: u64,
    pub kind: Kind,
    /// Master name, `ip:port` for replicas, runid for sentinels.
    pub name: String,
    /// The address links connect to (resolved when the instance was created from a name).
    pub ip: String,
    /// The name it was configured or announced with, when not an IP literal.
    pub hostname: Option<String>,
    /// announce-hostnames: show and announce `hostname` instead of `ip`.
    pub show_hostname: bool,
    pub port: u16,
    pub runid: Option<String>,
    pub s_down: bool,
    pub o_down: bool,
    pub master_down: bool,
    pub promoted: bool,
    pub reconf_sent: bool,
    pub reconf_inprog: bool,
    pub reconf_done: bool,
    pub script_kill_sent: bool,
    /// A master whose run_id changed (master-reboot-down-after-period is set) and which has not
    /// answered +PONG since.
    pub master_reboot: bool,
    pub master_reboot_since: Ms,
    pub s_down_since: Ms,
    pub o_down_since: Ms,
    pub down_after: Ms,
    pub link: Link,
    pub created: Ms,
    // INFO-derived (masters and replicas).
    pub info: Option<String>,
    pub info_refresh: Ms,
    pub role_reported: Kind,
    pub role_reported_time: Ms,
    pub master_link_down_time: Ms,
    pub slave_master_host: Option<String>,
    pub slave_master_port: u16,
    pub slave_master_link_up: bool,
    pub slave_priority: i64,
    pub slave_repl_offset: u64,
    pub replica_announced: bool,
    pub slave_conf_change_time: Ms,
    pub slave_reconf_sent_time: Ms,
    pub last_pub_time: Ms,
    // Sentinels.
    pub last_hello_time: Ms,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub last_master_down_reply_time: Ms,
    pub last_ask_time: Ms,
    /// Ask is-master-down-by-addr at once (a failover just started).
    pub force_ask: bool,
    /// A SLAVEOF transaction for the link task to send: `Some(None)` is SLAVEOF NO ONE.
    pub pending_slaveof: Option<Option<(String, u16)>>,
    pub link_task: bool,
}

impl Instance {
    pub fn new(id: u64, kind: Kind, name: String, ip: String, port: u16, down_after: Ms) -> Self {
        let now = mstime();
        Instance {
            id,
            kind,
            name,
            ip,
            hostname: None,
            show_hostname: false,
            port,
            runid: None,
            s_down: false,
            o_down: false,
            master_down: false,
            promoted: false,
            reconf_sent: false,
            reconf_inprog: false,
            reconf_done: false,
            script_kill_sent: false,
            master_reboot: false,
            master_reboot_since: 0,
            s_down_since: 0,
            o_down_since: 0,
            down_after,
            link: Link {
                last_avail_time: now,
                last_pong_time: now,
                ..Link::default()
            },
            created: now,
            info: None,
            info_refresh: 0,
            role_reported: kind,
            role_reported_time: now,
            master_link_down_time: 0,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            slave_conf_change_time: now,
            slave_reconf_sent_time: 0,
            last_pub_time: now,
            last_hello_time: now,
            leader: None,
            leader_epoch: 0,
            last_master_down_reply_time: now,
            last_ask_time: 0,
            force_ask: false,
            pending_slaveof: None,
            link_task: false,
        }
    }

    /// The address as shown and announced (`announceSentinelAddr`).
    pub fn addr(&self) -> (String, u16) {
        (self.shown_ip().to_string(), self.port)
    }

    pub fn shown_ip(&self) -> &str {
        match &self.hostname {
            Some(h) if self.show_hostname => h,
            _ => &self.ip,
        }
    }

    /// Whether `host` names this instance's address (its IP or its hostname).
    pub fn is_at(&self, host: &str, port: u16) -> bool {
        self.port == port && (self.ip == host || self.hostname.as_deref() == Some(host))
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub parallel_syncs: i64,
    pub failover_timeout: Ms,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub reboot_down_after: Ms,
    pub renamed: Vec<(String, String)>,
    /// Bumped when the credentials or renamed commands change: the links of this master and
    /// its replicas reconnect (and re-authenticate).
    pub link_gen: u64,
    pub config_epoch: u64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_in_progress: bool,
    pub force_failover: bool,
    pub failover_epoch: u64,
    pub failover_start_time: Ms,
    pub failover_state_change_time: Ms,
    pub failover_delay_logged: Ms,
    /// The replica being promoted (its instance id).
    pub promoted: Option<u64>,
    pub replicas: Vec<Instance>,
    pub sentinels: Vec<Instance>,
}

impl Master {
    pub fn promoted_replica(&self) -> Option<&Instance> {
        let id = self.promoted?;
        self.replicas.iter().find(|r| r.id == id)
    }

    /// The address clients should use: the promoted replica's once the failover reached
    /// reconf_slaves (`sentinelGetCurrentMasterAddress`).
    pub fn current_addr(&self) -> (String, u16) {
        if self.failover_in_progress && self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(p) = self.promoted_replica() {
                return p.addr();
            }
        }
        self.inst.addr()
    }

    /// The renamed form of a command sent to this master and its replicas.
    pub fn cmd(&self, name: &str) -> String {
        self.renamed
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(name))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| name.to_string())
    }
}

impl PartialOrd for FailoverState {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some((*self as u8).cmp(&(*other as u8)))
    }
}

/// Where an instance sits inside `Sentinel::masters`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Loc {
    Master(usize),
    Replica(usize, usize),
    Sentinel(usize, usize),
}

pub struct Sentinel {
    pub myid: String,
    pub current_epoch: u64,
    pub masters: Vec<Master>,
    pub tilt: bool,
    pub tilt_start: Ms,
    pub previous_time: Ms,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub simfailure_flags: u32,
    pub timings: Timings,
    /// The server config (port, requirepass, the file to rewrite).
    pub config: crate::config::Config,
    pub next_id: u64,
    /// Events waiting to be published once the state borrow is released (publishing wakes
    /// subscribers, and glommio may run them at once).
    pub pending_events: Vec<(String, String)>,
    /// Bumped by SENTINEL CONFIG SET sentinel-user/sentinel-pass: links to other sentinels
    /// reconnect with the new credentials.
    pub peer_link_gen: u64,
    /// Instances whose link tasks are to be started by the timer.
    pub spawn_queue: Vec<u64>,
    pub scripts: Vec<scripts::ScriptJob>,
    /// `user <name> <rules>` lines the config rewrite writes (kept current by ACL SETUSER /
    /// DELUSER), as redis-sentinel's `rewriteConfigUserOption`.
    pub user_lines: Vec<String>,
}

pub type Shared = Rc<RefCell<Sentinel>>;

pub const SIMFAILURE_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u32 = 2;

impl Sentinel {
    pub fn new(config: crate::config::Config) -> Sentinel {
        Sentinel {
            myid: String::new(),
            current_epoch: 0,
            masters: Vec::new(),
            tilt: false,
            tilt_start: 0,
            previous_time: mstime(),
            announce_ip: None,
            announce_port: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            simfailure_flags: 0,
            timings: Timings::default(),
            config,
            next_id: 1,
            pending_events: Vec::new(),
            peer_link_gen: 0,
            spawn_queue: Vec::new(),
            scripts: Vec::new(),
            user_lines: Vec::new(),
        }
    }

    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn master_by_name(&self, name: &str) -> Option<usize> {
        self.masters
            .iter()
            .position(|m| m.inst.name.eq_ignore_ascii_case(name))
    }

    pub fn locate(&self, id: u64) -> Option<Loc> {
        for (mi, m) in self.masters.iter().enumerate() {
            if m.inst.id == id {
                return Some(Loc::Master(mi));
            }
            if let Some(i) = m.replicas.iter().position(|r| r.id == id) {
                return Some(Loc::Replica(mi, i));
            }
            if let Some(i) = m.sentinels.iter().position(|r| r.id == id) {
                return Some(Loc::Sentinel(mi, i));
            }
        }
        None
    }

    pub fn inst(&self, loc: Loc) -> &Instance {
        match loc {
            Loc::Master(m) => &self.masters[m].inst,
            Loc::Replica(m, i) => &self.masters[m].replicas[i],
            Loc::Sentinel(m, i) => &self.masters[m].sentinels[i],
        }
    }

    pub fn inst_mut(&mut self, loc: Loc) -> &mut Instance {
        match loc {
            Loc::Master(m) => &mut self.masters[m].inst,
            Loc::Replica(m, i) => &mut self.masters[m].replicas[i],
            Loc::Sentinel(m, i) => &mut self.masters[m].sentinels[i],
        }
    }

    pub fn master_of(loc: Loc) -> usize {
        match loc {
            Loc::Master(m) | Loc::Replica(m, _) | Loc::Sentinel(m, _) => m,
        }
    }

    /// `%@`: `<type> <name> <ip> <port>[ @ <master> <mip> <mport>]`.
    pub fn describe(&self, loc: Loc) -> String {
        let i = self.inst(loc);
        let mut s = format!("{} {} {} {}", i.kind_name(), i.name, i.shown_ip(), i.port);
        if let Loc::Replica(m, _) | Loc::Sentinel(m, _) = loc {
            let m = &self.masters[m].inst;
            s.push_str(&format!(" @ {} {} {}", m.name, m.shown_ip(), m.port));
        }
        s
    }

    /// Logs an event in Redis's format and queues it for its pub/sub channel (debug-level
    /// events are not published).
    pub fn event(&mut self, level: Level, kind: &str, msg: String) {
        let line = format!("{kind} {msg}");
        match level {
            Level::Warning => tracing::warn!("{line}"),
            Level::Notice => tracing::info!("{line}"),
            Level::Verbose => tracing::debug!("{line}"),
            _ => tracing::trace!("{line}"),
        }
        if level != Level::Debug {
            self.pending_events.push((kind.to_string(), msg));
        }
    }

    pub fn event_at(&mut self, level: Level, kind: &str, loc: Loc) {
        let d = self.describe(loc);
        self.event_m(level, kind, Self::master_of(loc), d);
    }

    /// An event about master `mi` (or one of its instances): warning-level ones also run the
    /// master's notification-script with the event type and message.
    pub fn event_m(&mut self, level: Level, kind: &str, mi: usize, msg: String) {
        if level == Level::Warning {
            if let Some(script) = self
                .masters
                .get(mi)
                .and_then(|m| m.notification_script.clone())
            {
                scripts::schedule(self, vec![script, kind.to_string(), msg.clone()]);
            }
        }
        self.event(level, kind, msg);
    }

    /// Runs the master's client-reconfig-script: `<master> <leader|observer> start <from-ip>
    /// <from-port> <to-ip> <to-port>`.
    pub fn client_reconfig(
        &mut self,
        mi: usize,
        role: &str,
        from: (String, u16),
        to: (String, u16),
    ) {
        let m = &self.masters[mi];
        if let Some(script) = m.client_reconfig_script.clone() {
            let argv = vec![
                script,
                m.inst.name.clone(),
                role.to_string(),
                "start".to_string(),
                from.0,
                from.1.to_string(),
                to.0,
                to.1.to_string(),
            ];
            scripts::schedule(self, argv);
        }
    }

    /// (IP to connect to, hostname) for `host` as configured or announced: names are resolved
    /// (once, as Redis's createSentinelAddr does) when resolve-hostnames is on.
    pub fn resolve_host(&self, host: &str) -> (String, Option<String>) {
        if host.parse::<std::net::IpAddr>().is_ok() || !self.resolve_hostnames {
            return (host.to_string(), None);
        }
        use std::net::ToSocketAddrs;
        let ip = (host, 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| host.to_string());
        (ip, Some(host.to_string()))
    }

    fn instance_at(
        &mut self,
        kind: Kind,
        name: Option<String>,
        host: &str,
        port: u16,
        down_after: Ms,
    ) -> Instance {
        let id = self.new_id();
        let (ip, hostname) = self.resolve_host(host);
        let mut i = Instance::new(id, kind, String::new(), ip, port, down_after);
        i.hostname = hostname;
        i.show_hostname = self.announce_hostnames;
        i.name = name.unwrap_or_else(|| format!("{}:{port}", i.shown_ip()));
        i
    }

    /// Creates a replica of master `mi` (no event); returns its id.
    pub fn add_replica(&mut self, mi: usize, ip: &str, port: u16) -> u64 {
        let down_after = self.masters[mi].inst.down_after;
        let r = self.instance_at(Kind::Replica, None, ip, port, down_after);
        let id = r.id;
        self.masters[mi].replicas.push(r);
        self.spawn_queue.push(id);
        id
    }

    pub fn add_sentinel(&mut self, mi: usize, ip: &str, port: u16, runid: &str) -> u64 {
        let down_after = self.masters[mi].inst.down_after;
        let mut s = self.instance_at(
            Kind::Sentinel,
            Some(runid.to_string()),
            ip,
            port,
            down_after,
        );
        let id = s.id;
        s.runid = Some(runid.to_string());
        self.masters[mi].sentinels.push(s);
        self.spawn_queue.push(id);
        id
    }

    /// Creates a monitored master; returns its index.
    pub fn add_master(&mut self, name: &str, ip: &str, port: u16, quorum: u32) -> usize {
        let down_after = self.timings.default_down_after;
        let inst = self.instance_at(Kind::Master, Some(name.to_string()), ip, port, down_after);
        let id = inst.id;
        self.masters.push(Master {
            inst,
            quorum,
            parallel_syncs: 1,
            failover_timeout: self.timings.default_failover_timeout,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            reboot_down_after: 0,
            renamed: Vec::new(),
            link_gen: 0,
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            failover_state: FailoverState::None,
            failover_in_progress: false,
            force_failover: false,
            failover_epoch: 0,
            failover_start_time: 0,
            failover_state_change_time: 0,
            failover_delay_logged: 0,
            promoted: None,
            replicas: Vec::new(),
            sentinels: Vec::new(),
        });
        self.spawn_queue.push(id);
        self.masters.len() - 1
    }

    /// `sentinelResetMaster`: forgets replicas (and sentinels unless `keep_sentinels`), the
    /// failover state and the link (a fresh instance id ends the old link tasks), keeping the
    /// epochs; the master may fail over again at once.
    pub fn reset_master(&mut self, mi: usize, ip: &str, port: u16, keep_sentinels: bool) {
        let (name, down_after) = (
            self.masters[mi].inst.name.clone(),
            self.masters[mi].inst.down_after,
        );
        let mut inst = self.instance_at(Kind::Master, Some(name), ip, port, down_after);
        let new_id = inst.id;
        let m = &mut self.masters[mi];
        inst.link.local_ip = m.inst.link.local_ip.clone();
        m.inst = inst;
        m.replicas.clear();
        if !keep_sentinels {
            m.sentinels.clear();
        }
        m.leader = None;
        m.failover_state = FailoverState::None;
        m.failover_in_progress = false;
        m.force_failover = false;
        m.promoted = None;
        m.failover_state_change_time = 0;
        m.failover_start_time = 0;
        for s in &mut m.sentinels {
            s.master_down = false;
            s.leader = None;
        }
        self.spawn_queue.push(new_id);
    }

    /// `sentinelResetMasterAndChangeAddress`: the master moves to `ip:port`; its replicas are
    /// kept (minus the new address) and the old address becomes a replica; sentinels are kept.
    pub fn reset_master_address(&mut self, mi: usize, ip: &str, port: u16) {
        let old = self.masters[mi].inst.addr();
        let mut addrs: Vec<(String, u16)> = self.masters[mi]
            .replicas
            .iter()
            .map(|r| r.addr())
            .filter(|a| a.0 != ip || a.1 != port)
            .collect();
        if (old.0.as_str(), old.1) != (ip, port) && !addrs.contains(&old) {
            addrs.push(old);
        }
        self.reset_master(mi, ip, port, true);
        for (rip, rport) in addrs {
            self.add_replica(mi, &rip, rport);
            let loc = Loc::Replica(mi, self.masters[mi].replicas.len() - 1);
            self.event_at(Level::Notice, "+slave", loc);
        }
    }

    /// `sentinelVoteLeader`: grants at most one vote per epoch, persisting it before the reply.
    pub fn vote_leader(
        &mut self,
        mi: usize,
        req_epoch: u64,
        req_runid: &str,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.flush_config();
            self.event_m(
                Level::Warning,
                "+new-epoch",
                mi,
                self.current_epoch.to_string(),
            );
        }
        let m = &self.masters[mi];
        if m.leader_epoch < req_epoch && self.current_epoch <= req_epoch {
            let epoch = self.current_epoch;
            let m = &mut self.masters[mi];
            m.leader = Some(req_runid.to_string());
            m.leader_epoch = epoch;
            self.flush_config();
            self.event(
                Level::Warning,
                "+vote-for-leader",
                format!("{req_runid} {epoch}"),
            );
            if req_runid != self.myid {
                use rand::Rng;
                let jitter = rand::rng().random_range(0..1000);
                self.masters[mi].failover_start_time = mstime() + jitter;
            }
        }
        let m = &self.masters[mi];
        (m.leader.clone(), m.leader_epoch)
    }

    /// Writes the config file with the current state (fsync'd); logs the outcome.
    pub fn flush_config(&mut self) -> bool {
        let extra = config::state_lines(self);
        let refs: Vec<(&str, Vec<String>)> =
            extra.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        match self.config.rewrite_with(&refs) {
            Ok(()) => {
                tracing::info!("Sentinel new configuration saved on disk");
                true
            }
            Err(e) => {
                let why = e.strip_prefix("ERR Rewriting config file: ").unwrap_or(&e);
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {why}"
                );
                false
            }
        }
    }

    /// The (ip, port) we announce to instances reached through a link with `local_ip`.
    pub fn announce_addr(&self, local_ip: Option<&str>) -> (String, u16) {
        let ip = self
            .announce_ip
            .clone()
            .or_else(|| local_ip.map(str::to_string))
            .unwrap_or_else(|| "127.0.0.1".into());
        let port = if self.announce_port != 0 {
            self.announce_port
        } else {
            self.config.port
        };
        (ip, port)
    }
}

/// Runs `f` on the state, then publishes the events it raised once the borrow is released.
pub fn with_state<R>(st: &Shared, f: impl FnOnce(&mut Sentinel) -> R) -> R {
    let (r, events) = {
        let mut s = st.borrow_mut();
        let r = f(&mut s);
        (r, std::mem::take(&mut s.pending_events))
    };
    for (channel, msg) in events {
        crate::net::pubsub::publish_local(
            crate::net::pubsub::Kind::Channel,
            channel.as_bytes(),
            msg.as_bytes(),
        );
    }
    r
}

/// Whether `s` looks like an instance id / runid (40 hex chars).
pub fn is_runid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

pub fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}
