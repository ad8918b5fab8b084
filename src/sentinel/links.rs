//! Links to instances. Every master and replica has a command link (PING, INFO, PUBLISH hello,
//! the SLAVEOF transaction) and a pub/sub link (SUBSCRIBE `__sentinel__:hello`); every other
//! sentinel has a command link (PING, PUBLISH hello, is-master-down-by-addr). Each link is a
//! task that owns its socket, asks the shared state what to send, pipelines it, and feeds the
//! replies back ([`on_reply`]). Replies arrive in order, one per command, as hiredis delivers
//! them to Redis's callbacks.

use super::{mstime, with_state, FailoverState, Kind, Loc, Ms, Sentinel, Shared};
use crate::net::outbound::{encode, Outbound, Reply};
use crate::server::log::Level;
use std::time::Duration;

pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// What a command sent on a link was, to route its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Req {
    Ignore,
    Ping,
    Info,
    /// A hello for the instance with this id (a shared peer link carries one per master).
    Publish(u64),
    /// An is-master-down-by-addr ask on behalf of the sentinel instance with this id.
    IsMasterDown(u64),
}

enum Plan {
    Gone,
    /// Close the link and reconnect (credentials or renamed commands changed).
    Reset,
    Wait,
    Connect {
        ip: String,
        port: u16,
    },
    Send(Vec<(Req, Vec<String>)>),
}

/// Starts the link task(s) for instance `id`.
pub fn spawn(st: &Shared, id: u64, kind: Kind) {
    glommio::spawn_local(cmd_link(st.clone(), id)).detach();
    if kind != Kind::Sentinel {
        glommio::spawn_local(pubsub_link(st.clone(), id)).detach();
    }
}

/// AUTH and CLIENT SETNAME for a new link (`sentinelSendAuthIfNeeded`, `sentinelSetClientName`).
fn handshake(s: &Sentinel, loc: Loc, what: &str) -> Vec<(Req, Vec<String>)> {
    let m = &s.masters[Sentinel::master_of(loc)];
    let mut out = Vec::new();
    let (user, pass) = match loc {
        Loc::Sentinel(..) => (
            s.sentinel_user.clone(),
            s.sentinel_pass.clone().or_else(|| {
                s.config
                    .requirepass
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            }),
        ),
        _ => (m.auth_user.clone(), m.auth_pass.clone()),
    };
    let cmd = |name: &str| match loc {
        Loc::Sentinel(..) => name.to_string(),
        _ => m.cmd(name),
    };
    if let Some(pass) = pass {
        let mut a = vec![cmd("AUTH")];
        if let Some(u) = user {
            a.push(u);
        }
        a.push(pass);
        out.push((Req::Ignore, a));
    }
    let prefix: String = s.myid.chars().take(8).collect();
    out.push((
        Req::Ignore,
        vec![
            cmd("CLIENT"),
            "SETNAME".into(),
            format!("sentinel-{prefix}-{what}"),
        ],
    ));
    out
}

fn info_period(s: &Sentinel, loc: Loc) -> Ms {
    let i = s.inst(loc);
    let m = &s.masters[Sentinel::master_of(loc)];
    if i.kind == Kind::Replica
        && (m.inst.o_down || m.failover_in_progress || i.master_link_down_time != 0)
    {
        1000
    } else {
        s.timings.info_period
    }
}

/// The hello payload for master `mi`, announced through a link whose local address is
/// `local_ip`.
pub fn hello_payload(s: &Sentinel, mi: usize, local_ip: Option<&str>) -> String {
    let (ip, port) = s.announce_addr(local_ip);
    let m = &s.masters[mi];
    let (mip, mport) = m.current_addr();
    format!(
        "{ip},{port},{},{},{},{mip},{mport},{}",
        s.myid, s.current_epoch, m.inst.name, m.config_epoch
    )
}

/// The credentials generation of the link to the instance at `loc`.
fn link_gen(s: &Sentinel, loc: Loc) -> u64 {
    match loc {
        Loc::Sentinel(..) => s.peer_link_gen,
        _ => s.masters[Sentinel::master_of(loc)].link_gen,
    }
}

/// Every sentinel instance (over all masters) with the runid of the one at `loc`, `loc` first.
pub fn peer_group(s: &Sentinel, loc: Loc) -> Vec<Loc> {
    let mut out = vec![loc];
    let Some(runid) = s.inst(loc).runid.clone() else {
        return out;
    };
    for (mi, m) in s.masters.iter().enumerate() {
        for (i, x) in m.sentinels.iter().enumerate() {
            if Loc::Sentinel(mi, i) != loc && x.runid.as_deref() == Some(runid.as_str()) {
                out.push(Loc::Sentinel(mi, i));
            }
        }
    }
    out
}

/// Copies the state of a shared peer link from the instance that owns it to the others.
pub fn sync_peer_link(s: &mut Sentinel, owner: Loc) {
    if !matches!(owner, Loc::Sentinel(..)) {
        return;
    }
    let link = s.inst(owner).link.clone();
    for member in peer_group(s, owner).into_iter().skip(1) {
        s.inst_mut(member).link = link.clone();
    }
}

fn plan(s: &mut Sentinel, id: u64, connected: Option<u64>, now: Ms) -> Plan {
    let Some(loc) = s.locate(id) else {
        return Plan::Gone;
    };
    let mi = Sentinel::master_of(loc);
    if connected.is_some_and(|g| g != link_gen(s, loc)) {
        return Plan::Reset;
    }
    let connected = connected.is_some();
    let ping_period = s.inst(loc).down_after.clamp(1, s.timings.ping_period);
    if !connected {
        let i = s.inst_mut(loc);
        i.link.connected = false;
        let wait = now - i.link.last_reconn_time < ping_period;
        sync_peer_link(s, loc);
        if wait {
            return Plan::Wait;
        }
        let i = s.inst_mut(loc);
        i.link.last_reconn_time = now;
        // Redis queues a PING on the new connection at once, before the non-blocking connect
        // completes (`sentinelReconnectInstance` -> `sentinelSendPing`): the attempt starts
        // the unanswered-PING clock even when the connect then fails, so a master killed
        // while its link was idle is down `down-after` after the link dropped.
        i.link.last_ping_time = now;
        if i.link.act_ping_time == 0 {
            i.link.act_ping_time = now;
        }
        sync_peer_link(s, loc);
        let i = s.inst(loc);
        return Plan::Connect {
            ip: i.ip.clone(),
            port: i.port,
        };
    }
    let mut batch = Vec::new();
    let kind = s.inst(loc).kind;
    let m = &s.masters[mi];
    let cmd = |name: &str| match kind {
        Kind::Sentinel => name.to_string(),
        _ => m.cmd(name),
    };
    if kind != Kind::Sentinel {
        if let Some(target) = s.inst(loc).pending_slaveof.clone() {
            let mut slaveof = vec![cmd("SLAVEOF")];
            match target {
                None => slaveof.extend(["NO".to_string(), "ONE".to_string()]),
                Some((ip, port)) => slaveof.extend([ip, port.to_string()]),
            }
            for c in [
                vec![cmd("MULTI")],
                slaveof,
                vec![cmd("CONFIG"), "REWRITE".into()],
                vec![cmd("CLIENT"), "KILL".into(), "TYPE".into(), "normal".into()],
                vec![cmd("CLIENT"), "KILL".into(), "TYPE".into(), "pubsub".into()],
                vec![cmd("EXEC")],
            ] {
                batch.push((Req::Ignore, c));
            }
        }
    }
    // A link to another sentinel is shared by every master that sentinel monitors with us
    // (same runid): it carries each of those masters' asks and hellos.
    let members: Vec<Loc> = match kind {
        Kind::Sentinel => peer_group(s, loc),
        _ => vec![loc],
    };
    if kind == Kind::Sentinel {
        for &member in &members {
            let mm = &s.masters[Sentinel::master_of(member)];
            if !mm.inst.s_down {
                continue;
            }
            let x = s.inst(member);
            let elapsed = now - x.last_master_down_reply_time;
            if x.force_ask
                || (elapsed >= s.timings.ask_period
                    && now - x.last_ask_time >= s.timings.ask_period)
            {
                let runid = if mm.failover_state > FailoverState::None {
                    s.myid.clone()
                } else {
                    "*".into()
                };
                batch.push((
                    Req::IsMasterDown(x.id),
                    vec![
                        "SENTINEL".into(),
                        "is-master-down-by-addr".into(),
                        mm.inst.shown_ip().to_string(),
                        mm.inst.port.to_string(),
                        s.current_epoch.to_string(),
                        runid,
                    ],
                ));
            }
        }
    }
    let i = s.inst(loc);
    if kind != Kind::Sentinel && (i.info_refresh == 0 || now - i.info_refresh > info_period(s, loc))
    {
        batch.push((Req::Info, vec![cmd("INFO")]));
    }
    if now - i.link.last_pong_time > ping_period && now - i.link.last_ping_time > ping_period / 2 {
        batch.push((Req::Ping, vec![cmd("PING")]));
    }
    let local_ip = i.link.local_ip.clone();
    for &member in &members {
        let x = s.inst(member);
        if now - x.last_pub_time > s.timings.publish_period {
            let payload = hello_payload(s, Sentinel::master_of(member), local_ip.as_deref());
            batch.push((
                Req::Publish(x.id),
                vec![cmd("PUBLISH"), HELLO_CHANNEL.into(), payload],
            ));
        }
    }
    for (r, _) in &batch {
        if let Req::IsMasterDown(mid) = r {
            if let Some(l) = s.locate(*mid) {
                let x = s.inst_mut(l);
                x.force_ask = false;
                x.last_ask_time = now;
            }
        }
    }
    let i = s.inst_mut(loc);
    i.pending_slaveof = None;
    if batch.iter().any(|(r, _)| *r == Req::Ping) {
        i.link.last_ping_time = now;
        if i.link.act_ping_time == 0 {
            i.link.act_ping_time = now;
        }
    }
    sync_peer_link(s, loc);
    if batch.is_empty() {
        Plan::Wait
    } else {
        Plan::Send(batch)
    }
}

fn reply_timeout(s: &Sentinel, id: u64) -> Duration {
    let d = s
        .locate(id)
        .map(|l| s.inst(l).down_after)
        .unwrap_or(1000)
        .clamp(1000, 30_000);
    Duration::from_millis(d as u64)
}

async fn cmd_link(st: Shared, id: u64) {
    let mut conn: Option<Outbound> = None;
    let mut conn_gen = 0;
    loop {
        let now = mstime();
        let p = with_state(&st, |s| plan(s, id, conn.as_ref().map(|_| conn_gen), now));
        let batch = match p {
            Plan::Gone => break,
            Plan::Reset => {
                if let Some(c) = conn.take() {
                    c.close().await;
                }
                continue;
            }
            Plan::Wait => {
                // An idle connection still watches its socket, as hiredis does: a peer that
                // dies (kill -9) is seen as a closed link within this wait, not only when the
                // next PING or hello is written to it.
                let idle = Duration::from_millis(50);
                let alive = match conn.as_mut() {
                    Some(c) => c.poll_idle(idle).await.is_ok(),
                    None => {
                        glommio::timer::sleep(idle).await;
                        true
                    }
                };
                if !alive {
                    with_state(&st, |s| {
                        if let Some(loc) = s.locate(id) {
                            s.inst_mut(loc).link.connected = false;
                            sync_peer_link(s, loc);
                        }
                    });
                    if let Some(c) = conn.take() {
                        c.close().await;
                    }
                }
                continue;
            }
            Plan::Connect { ip, port } => {
                match Outbound::connect(&ip, port, Duration::from_millis(1000)).await {
                    Ok(c) => {
                        let local = c.local_ip.clone();
                        conn = Some(c);
                        with_state(&st, |s| {
                            let Some(loc) = s.locate(id) else {
                                return Vec::new();
                            };
                            conn_gen = link_gen(s, loc);
                            let mut b = handshake(s, loc, "cmd");
                            let i = s.inst_mut(loc);
                            i.link.connected = true;
                            i.link.local_ip = Some(local);
                            i.link.last_ping_time = now;
                            if i.link.act_ping_time == 0 {
                                i.link.act_ping_time = now;
                            }
                            let ping = match loc {
                                Loc::Sentinel(..) => "PING".to_string(),
                                _ => s.masters[Sentinel::master_of(loc)].cmd("PING"),
                            };
                            b.push((Req::Ping, vec![ping]));
                            b
                        })
                    }
                    Err(_) => {
                        glommio::timer::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            Plan::Send(b) => b,
        };
        let Some(c) = conn.as_mut() else { continue };
        let mut bytes = Vec::new();
        for (_, args) in &batch {
            encode(args, &mut bytes);
        }
        let timeout = reply_timeout(&st.borrow(), id);
        with_state(&st, |s| {
            if let Some(loc) = s.locate(id) {
                s.inst_mut(loc).link.pending_commands = batch.len() as u32;
            }
        });
        let mut ok = c.send_raw(&bytes).await.is_ok();
        if ok {
            for (req, _) in &batch {
                match c.read_reply(timeout).await {
                    Ok(r) => with_state(&st, |s| on_reply(s, id, req, &r)),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
        }
        with_state(&st, |s| {
            if let Some(loc) = s.locate(id) {
                let i = s.inst_mut(loc);
                i.link.pending_commands = 0;
                if !ok {
                    i.link.connected = false;
                }
            }
        });
        if !ok {
            if let Some(c) = conn.take() {
                c.close().await;
            }
        }
    }
    if let Some(c) = conn.take() {
        c.close().await;
    }
}

async fn pubsub_link(st: Shared, id: u64) {
    let mut last_attempt: Ms = 0;
    loop {
        let target = with_state(&st, |s| {
            let loc = s.locate(id)?;
            let i = s.inst_mut(loc);
            i.link.pubsub_connected = false;
            Some((
                i.ip.clone(),
                i.port,
                i.down_after.clamp(1, s.timings.ping_period),
            ))
        });
        let Some((ip, port, period)) = target else {
            return;
        };
        let now = mstime();
        if now - last_attempt < period {
            glommio::timer::sleep(Duration::from_millis(50)).await;
            continue;
        }
        last_attempt = now;
        let Ok(mut c) = Outbound::connect(&ip, port, Duration::from_millis(1000)).await else {
            continue;
        };
        let hs = with_state(&st, |s| {
            let loc = s.locate(id)?;
            let mut b = handshake(s, loc, "pubsub");
            let m = &s.masters[Sentinel::master_of(loc)];
            b.push((Req::Ignore, vec![m.cmd("SUBSCRIBE"), HELLO_CHANNEL.into()]));
            let gen = m.link_gen;
            s.inst_mut(loc).link.pubsub_connected = true;
            Some((b, s.timings.publish_period, gen))
        });
        let Some((hs, publish_period, gen)) = hs else {
            c.close().await;
            return;
        };
        let mut bytes = Vec::new();
        for (_, a) in &hs {
            encode(a, &mut bytes);
        }
        if c.send_raw(&bytes).await.is_err() {
            continue;
        }
        // The handshake replies (AUTH, SETNAME) are ignored, but an error instead of the
        // SUBSCRIBE confirmation (e.g. -NOAUTH) leaves the link useless: it is closed, and the
        // instance shows as disconnected, as hiredis does for a pub/sub link (it drops the
        // connection on an error reply to SUBSCRIBE).
        let mut subscribed = true;
        for _ in 0..hs.len() {
            match c
                .read_reply(Duration::from_millis(publish_period.max(1000) as u64))
                .await
            {
                Ok(r) => subscribed = !r.is_error(),
                Err(_) => {
                    subscribed = false;
                    break;
                }
            }
        }
        if !subscribed {
            with_state(&st, |s| {
                if let Some(loc) = s.locate(id) {
                    s.inst_mut(loc).link.pubsub_connected = false;
                }
            });
            c.close().await;
            continue;
        }
        // No message for 3 publish periods: the link is considered dead (Redis closes the
        // pub/sub link then too).
        let idle = Duration::from_millis((publish_period * 3).max(1000) as u64);
        loop {
            match c.read_reply(idle).await {
                Ok(Reply::Array(Some(items))) => {
                    if items.len() == 3 && items[0].text().as_deref() == Some("message") {
                        if let Some(payload) = items[2].text() {
                            let gone = with_state(&st, |s| {
                                let Some(loc) = s.locate(id) else {
                                    return true;
                                };
                                if s.masters[Sentinel::master_of(loc)].link_gen != gen {
                                    return true;
                                }
                                if !payload.contains(&s.myid) {
                                    process_hello(s, &payload);
                                }
                                false
                            });
                            if gone {
                                break;
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        c.close().await;
    }
}

/// `sentinelProcessHelloMessage`.
pub fn process_hello(s: &mut Sentinel, payload: &str) {
    let t: Vec<&str> = payload.split(',').collect();
    if t.len() != 8 {
        return;
    }
    let Some(mi) = s.master_by_name(t[4]) else {
        return;
    };
    let (ip, runid) = (t[0], t[2]);
    let Ok(port) = t[1].parse::<u16>() else {
        return;
    };
    let cur_epoch: u64 = t[3].parse().unwrap_or(0);
    let (mip, mport) = (t[5], t[6].parse::<u16>().unwrap_or(0));
    let master_config_epoch: u64 = t[7].parse().unwrap_or(0);
    let now = mstime();
    let found = s.masters[mi]
        .sentinels
        .iter()
        .position(|x| x.is_at(ip, port) && x.runid.as_deref() == Some(runid));
    let si = match found {
        Some(i) => i,
        None => {
            let m = &mut s.masters[mi];
            let before = m.sentinels.len();
            m.sentinels.retain(|x| x.runid.as_deref() != Some(runid));
            if m.sentinels.len() != before {
                let d = s.describe(Loc::Master(mi));
                s.event(
                    Level::Notice,
                    "+sentinel-address-switch",
                    format!("{d} ip {ip} port {port} for {runid}"),
                );
            } else if let Some(j) = s.masters[mi]
                .sentinels
                .iter()
                .position(|x| x.is_at(ip, port))
            {
                s.event_at(
                    Level::Notice,
                    "+sentinel-invalid-addr",
                    Loc::Sentinel(mi, j),
                );
                s.masters[mi].sentinels.remove(j);
            }
            s.add_sentinel(mi, ip, port, runid);
            let j = s.masters[mi].sentinels.len() - 1;
            s.event_at(Level::Notice, "+sentinel", Loc::Sentinel(mi, j));
            s.flush_config();
            j
        }
    };
    if cur_epoch > s.current_epoch {
        s.current_epoch = cur_epoch;
        s.flush_config();
        s.event(Level::Warning, "+new-epoch", cur_epoch.to_string());
    }
    if s.masters[mi].config_epoch < master_config_epoch {
        s.masters[mi].config_epoch = master_config_epoch;
        let (oip, oport) = s.masters[mi].inst.addr();
        if mport != oport || mip != oip {
            s.event_at(Level::Warning, "+config-update-from", Loc::Sentinel(mi, si));
            let name = s.masters[mi].inst.name.clone();
            s.event_m(
                Level::Warning,
                "+switch-master",
                mi,
                format!("{name} {oip} {oport} {mip} {mport}"),
            );
            s.reset_master_address(mi, mip, mport);
            s.client_reconfig(mi, "observer", (oip, oport), (mip.to_string(), mport));
            s.flush_config();
        }
    }
    // The sentinel may have moved in the vectors; find it again by runid.
    if let Some(x) = s.masters[mi]
        .sentinels
        .iter_mut()
        .find(|x| x.runid.as_deref() == Some(runid))
    {
        x.last_hello_time = now;
    }
}

/// Routes one reply from a command link to the state.
pub fn on_reply(s: &mut Sentinel, id: u64, req: &Req, r: &Reply) {
    let Some(loc) = s.locate(id) else {
        return;
    };
    let now = mstime();
    match req {
        Req::Ignore => {}
        Req::Ping => {
            let i = s.inst_mut(loc);
            i.link.last_pong_time = now;
            let text = r.text().unwrap_or_default();
            if text.starts_with("PONG")
                || text.starts_with("LOADING")
                || text.starts_with("MASTERDOWN")
            {
                i.link.last_avail_time = now;
                i.link.act_ping_time = 0;
            }
            sync_peer_link(s, loc);
        }
        Req::Publish(target) => {
            if !r.is_error() {
                if let Some(l) = s.locate(*target) {
                    s.inst_mut(l).last_pub_time = now;
                }
            }
        }
        Req::Info => {
            if let Some(text) = r.text().filter(|_| !r.is_error()) {
                refresh_info(s, loc, &text, now);
            }
        }
        Req::IsMasterDown(target) => {
            let Some(loc) = s.locate(*target) else {
                return;
            };
            if let Reply::Array(Some(items)) = r {
                if let [Reply::Int(down), Reply::Bulk(Some(leader)), Reply::Int(epoch)] = &items[..]
                {
                    let leader = String::from_utf8_lossy(leader).into_owned();
                    let i = s.inst_mut(loc);
                    i.last_master_down_reply_time = now;
                    i.master_down = *down == 1;
                    if leader != "*" {
                        let epoch = (*epoch).max(0) as u64;
                        if i.leader_epoch != epoch {
                            tracing::warn!("{} voted for {leader} {epoch}", i.name);
                        }
                        i.leader = Some(leader);
                        i.leader_epoch = epoch;
                    }
                }
            }
        }
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(key)?;
    let rest = &line[at + key.len()..];
    Some(rest.split(',').next().unwrap_or(rest))
}

/// Whether master `mi` looks sane enough to reconfigure replicas towards it.
fn master_looks_sane(s: &Sentinel, mi: usize, now: Ms) -> bool {
    let m = &s.masters[mi].inst;
    m.role_reported == Kind::Master
        && !m.s_down
        && !m.o_down
        && m.info_refresh != 0
        && now - m.info_refresh < s.timings.info_period * 2
}

fn no_down_for(i: &super::Instance, ms: Ms, now: Ms) -> bool {
    let recent = i.s_down_since.max(i.o_down_since);
    recent == 0 || now - recent > ms
}

/// `sentinelRefreshInstanceInfo`: parses INFO and acts on it.
pub fn refresh_info(s: &mut Sentinel, loc: Loc, info: &str, now: Ms) {
    let mi = Sentinel::master_of(loc);
    let mut role = None;
    let mut new_replicas = Vec::new();
    {
        let is_master = matches!(loc, Loc::Master(_));
        let reboot_after = s.masters[mi].reboot_down_after;
        let i = s.inst_mut(loc);
        i.info = Some(info.to_string());
        i.master_link_down_time = 0;
        for line in info.split("\r\n") {
            if let Some(id) = line.strip_prefix("run_id:") {
                // A peer may send anything: take 40 bytes only on a char boundary.
                if let Some(id) = id.get(..40).filter(|_| line.len() >= 47) {
                    let id = id.to_string();
                    match &i.runid {
                        Some(old) if *old != id => {
                            i.runid = Some(id);
                            if is_master && reboot_after != 0 {
                                i.master_reboot = true;
                                i.master_reboot_since = now;
                            }
                            // +reboot is raised below once the borrow ends.
                            i.info_refresh = -1;
                        }
                        None => i.runid = Some(id),
                        _ => {}
                    }
                }
            } else if is_master
                && line.starts_with("slave")
                && line.as_bytes().get(5).is_some_and(|c| c.is_ascii_digit())
            {
                let Some(colon) = line.find(':') else {
                    continue;
                };
                let v = &line[colon + 1..];
                let (ip, port) = if v.contains("ip=") {
                    (field(v, "ip="), field(v, "port="))
                } else {
                    let mut p = v.split(',');
                    (p.next(), p.next())
                };
                if let (Some(ip), Some(Ok(port))) = (ip, port.map(|p| p.parse::<u16>())) {
                    new_replicas.push((ip.to_string(), port));
                }
            } else if let Some(v) = line.strip_prefix("master_link_down_since_seconds:") {
                i.master_link_down_time = v.trim().parse::<i64>().unwrap_or(0).saturating_mul(1000);
            } else if line == "role:master" {
                role = Some(Kind::Master);
            } else if line == "role:slave" {
                role = Some(Kind::Replica);
            } else if let Some(v) = line.strip_prefix("master_host:") {
                if i.slave_master_host.as_deref() != Some(v) {
                    i.slave_master_host = Some(v.to_string());
                    i.slave_conf_change_time = now;
                }
            } else if let Some(v) = line.strip_prefix("master_port:") {
                let p = v.trim().parse::<u16>().unwrap_or(0);
                if i.slave_master_port != p {
                    i.slave_master_port = p;
                    i.slave_conf_change_time = now;
                }
            } else if let Some(v) = line.strip_prefix("master_link_status:") {
                i.slave_master_link_up = v.eq_ignore_ascii_case("up");
            } else if let Some(v) = line.strip_prefix("slave_priority:") {
                i.slave_priority = v.trim().parse().unwrap_or(100);
            } else if let Some(v) = line.strip_prefix("slave_repl_offset:") {
                i.slave_repl_offset = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("replica_announced:") {
                i.replica_announced = v.trim() != "0";
            }
        }
    }
    let rebooted = s.inst(loc).info_refresh == -1;
    s.inst_mut(loc).info_refresh = now;
    if rebooted {
        s.event_at(Level::Notice, "+reboot", loc);
    }
    for (ip, port) in new_replicas {
        let known = s.masters[mi].replicas.iter().any(|r| r.is_at(&ip, port));
        if !known && port != 0 {
            s.add_replica(mi, &ip, port);
            let j = s.masters[mi].replicas.len() - 1;
            s.event_at(Level::Notice, "+slave", Loc::Replica(mi, j));
            s.flush_config();
        }
    }
    let Some(role) = role else { return };
    if role != s.inst(loc).role_reported {
        let i = s.inst_mut(loc);
        i.role_reported = role;
        i.role_reported_time = now;
        let kind = if role == i.kind {
            "-role-change"
        } else {
            "+role-change"
        };
        let d = s.describe(loc);
        let r = if role == Kind::Master {
            "master"
        } else {
            "slave"
        };
        s.event(
            Level::Verbose,
            kind,
            format!("{d} new reported role is {r}"),
        );
    }
    if s.tilt {
        return;
    }
    let Loc::Replica(_, ri) = loc else { return };
    let m = &s.masters[mi];
    let rid = m.replicas[ri].id;
    if role == Kind::Master {
        if m.failover_in_progress
            && m.failover_state == FailoverState::WaitPromotion
            && m.promoted == Some(rid)
        {
            let m = &mut s.masters[mi];
            m.config_epoch = m.failover_epoch;
            m.failover_state = FailoverState::ReconfSlaves;
            m.failover_state_change_time = now;
            s.flush_config();
            s.event_at(Level::Warning, "+promoted-slave", loc);
            if s.simfailure_flags & super::SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
                tracing::warn!("Simulated crash after promotion");
                std::process::exit(99);
            }
            s.event_at(
                Level::Warning,
                "+failover-state-reconf-slaves",
                Loc::Master(mi),
            );
            let from = s.masters[mi].inst.addr();
            let to = s.masters[mi].replicas[ri].addr();
            s.client_reconfig(mi, "leader", from, to);
            // Tell everyone about the new configuration as soon as possible.
            let m = &mut s.masters[mi];
            m.inst.last_pub_time = 0;
            for x in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
                x.last_pub_time = 0;
            }
        } else {
            let wait = s.timings.publish_period * 4;
            let r = &s.masters[mi].replicas[ri];
            if !r.promoted
                && master_looks_sane(s, mi, now)
                && no_down_for(r, wait, now)
                && now - r.role_reported_time > wait
            {
                let target = s.masters[mi].inst.addr();
                s.masters[mi].replicas[ri].pending_slaveof = Some(Some(target));
                s.event_at(Level::Notice, "+convert-to-slave", loc);
            }
        }
        return;
    }
    // role: slave.
    let r = &m.replicas[ri];
    let (mip, mport) = m.inst.addr();
    let points_elsewhere =
        r.slave_master_host.as_deref() != Some(mip.as_str()) || r.slave_master_port != mport;
    if points_elsewhere
        && !r.promoted
        && !r.reconf_sent
        && !r.reconf_inprog
        && !m.failover_in_progress
        && now - r.slave_conf_change_time > m.failover_timeout
        && master_looks_sane(s, mi, now)
    {
        s.masters[mi].replicas[ri].pending_slaveof = Some(Some((mip, mport)));
        s.event_at(Level::Notice, "+fix-slave-config", loc);
        return;
    }
    let m = &s.masters[mi];
    let Some(p) = m.promoted_replica() else {
        return;
    };
    let (pip, pport) = p.addr();
    let r = &m.replicas[ri];
    if r.reconf_sent
        && r.slave_master_host.as_deref() == Some(pip.as_str())
        && r.slave_master_port == pport
    {
        let r = &mut s.masters[mi].replicas[ri];
        r.reconf_sent = false;
        r.reconf_inprog = true;
        s.event_at(Level::Notice, "+slave-reconf-inprog", loc);
    }
    let r = &s.masters[mi].replicas[ri];
    if r.reconf_inprog && r.slave_master_link_up {
        let r = &mut s.masters[mi].replicas[ri];
        r.reconf_inprog = false;
        r.reconf_done = true;
        s.event_at(Level::Notice, "+slave-reconf-done", loc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Sentinel {
        let mut s = Sentinel::new(crate::config::Config::default());
        s.myid = "a".repeat(40);
        s.add_master("m", "127.0.0.1", 7000, 2);
        s
    }

    const MASTER_INFO: &str = "# Server\r\nrun_id:1111111111111111111111111111111111111111\r\n\
        # Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
        slave0:ip=127.0.0.1,port=7001,state=online,offset=10,lag=0\r\n\
        slave1:ip=127.0.0.1,port=7002,state=online,offset=10,lag=1\r\n";

    #[test]
    fn master_info_discovers_replicas_once() {
        let mut s = state();
        let now = mstime();
        refresh_info(&mut s, Loc::Master(0), MASTER_INFO, now);
        refresh_info(&mut s, Loc::Master(0), MASTER_INFO, now);
        let m = &s.masters[0];
        let ports: Vec<u16> = m.replicas.iter().map(|r| r.port).collect();
        assert_eq!(ports, vec![7001, 7002]);
        assert_eq!(
            m.inst.runid.as_deref(),
            Some("1111111111111111111111111111111111111111")
        );
        let slaves: Vec<&String> = s
            .pending_events
            .iter()
            .filter(|(k, _)| k == "+slave")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            slaves,
            vec![
                "slave 127.0.0.1:7001 127.0.0.1 7001 @ m 127.0.0.1 7000",
                "slave 127.0.0.1:7002 127.0.0.1 7002 @ m 127.0.0.1 7000"
            ]
        );
        // A new run_id is a reboot.
        let rebooted = MASTER_INFO.replace(&"1".repeat(40), &"2".repeat(40));
        refresh_info(&mut s, Loc::Master(0), &rebooted, now);
        assert!(s.pending_events.iter().any(|(k, _)| k == "+reboot"));
    }

    #[test]
    fn replica_info_fields_and_promotion() {
        let mut s = state();
        s.add_replica(0, "127.0.0.1", 7001);
        let now = mstime();
        let info = "run_id:3333333333333333333333333333333333333333\r\nrole:slave\r\n\
            master_host:127.0.0.1\r\nmaster_port:7000\r\nmaster_link_status:up\r\n\
            slave_repl_offset:42\r\nslave_priority:0\r\nreplica_announced:0\r\n";
        refresh_info(&mut s, Loc::Replica(0, 0), info, now);
        let r = &s.masters[0].replicas[0];
        assert_eq!(r.slave_master_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            (r.slave_master_port, r.slave_repl_offset, r.slave_priority),
            (7000, 42, 0)
        );
        assert!(r.slave_master_link_up && !r.replica_announced);
        // The replica selected for promotion reports role:master: the failover moves on.
        let m = &mut s.masters[0];
        m.failover_in_progress = true;
        m.failover_state = FailoverState::WaitPromotion;
        m.failover_epoch = 5;
        m.promoted = Some(m.replicas[0].id);
        m.replicas[0].promoted = true;
        refresh_info(&mut s, Loc::Replica(0, 0), "role:master\r\n", now);
        let m = &s.masters[0];
        assert_eq!(m.failover_state, FailoverState::ReconfSlaves);
        assert_eq!(m.config_epoch, 5);
        assert_eq!(m.current_addr(), ("127.0.0.1".to_string(), 7001));
        assert!(s.pending_events.iter().any(|(k, _)| k == "+promoted-slave"));
    }

    #[test]
    fn reconnect_attempt_starts_the_unanswered_ping_clock() {
        let mut s = state();
        let id = s.masters[0].inst.id;
        let now = mstime();
        // The link dropped (peer killed) after a PONG: no PING is outstanding.
        let i = &mut s.masters[0].inst;
        i.link.act_ping_time = 0;
        i.link.last_reconn_time = now - 5000;
        let p = plan(&mut s, id, None, now);
        assert!(matches!(p, Plan::Connect { port: 7000, .. }));
        let l = &s.masters[0].inst.link;
        assert_eq!(
            (l.act_ping_time, l.last_ping_time, l.last_reconn_time),
            (now, now, now)
        );
        // Later attempts keep the oldest unanswered PING time, as Redis does.
        s.masters[0].inst.link.last_reconn_time = now - 5000;
        let p = plan(&mut s, id, None, now + 1500);
        assert!(matches!(p, Plan::Connect { .. }));
        assert_eq!(s.masters[0].inst.link.act_ping_time, now);
        // Within the ping period of the last attempt the link waits.
        assert!(matches!(plan(&mut s, id, None, now + 1600), Plan::Wait));
    }

    #[test]
    fn hello_payload_has_eight_fields() {
        let mut s = state();
        s.config.port = 26379;
        s.current_epoch = 3;
        assert_eq!(
            hello_payload(&s, 0, Some("10.0.0.5")),
            format!("10.0.0.5,26379,{},3,m,127.0.0.1,7000,0", "a".repeat(40))
        );
        s.announce_ip = Some("1.2.3.4".into());
        s.announce_port = 5000;
        assert!(hello_payload(&s, 0, Some("10.0.0.5")).starts_with("1.2.3.4,5000,"));
    }
}
