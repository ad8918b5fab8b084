//! The Sentinel timer (`sentinelTimer`): TILT, SDOWN/ODOWN, leader election and the failover
//! state machine. Commands to instances are not sent from here: the timer marks what a link
//! must send (`pending_slaveof`, `force_ask`) and the link tasks send it.

use super::{links, mstime, with_state, FailoverState, Kind, Loc, Ms, Sentinel, Shared};
use crate::server::log::Level;
use std::time::Duration;

/// Runs forever on the sentinel executor.
pub async fn timer(st: Shared) {
    // Startup (config load, executor setup) must not count as a clock jump.
    st.borrow_mut().previous_time = mstime();
    loop {
        let spawn = with_state(&st, |s| {
            tick(s, mstime());
            super::scripts::run(s);
            let mut ids = std::mem::take(&mut s.spawn_queue);
            // Peer links are shared by runid: a sentinel instance whose link owner went away
            // (removed from its master) is adopted by another instance of the same runid.
            for m in &s.masters {
                ids.extend(m.sentinels.iter().filter(|x| !x.link_task).map(|x| x.id));
            }
            ids.into_iter()
                .filter_map(|id| {
                    let loc = s.locate(id)?;
                    if s.inst(loc).link_task {
                        return None;
                    }
                    if s.inst(loc).kind == Kind::Sentinel
                        && links::peer_group(s, loc)
                            .iter()
                            .skip(1)
                            .any(|l| s.inst(*l).link_task)
                    {
                        return None;
                    }
                    let i = s.inst_mut(loc);
                    i.link_task = true;
                    Some((id, i.kind))
                })
                .collect::<Vec<_>>()
        });
        for (id, kind) in spawn {
            links::spawn(&st, id, kind);
        }
        // Redis re-randomises hz to 10..19 every tick so that sentinels desynchronise.
        let ms = {
            use rand::Rng;
            rand::rng().random_range(50..100)
        };
        glommio::timer::sleep(Duration::from_millis(ms)).await;
    }
}

pub fn tick(s: &mut Sentinel, now: Ms) {
    let delta = now - s.previous_time;
    if delta < 0 || delta > s.timings.tilt_trigger {
        s.tilt = true;
        s.tilt_start = now;
        s.event(Level::Warning, "+tilt", "#tilt mode entered".into());
    }
    s.previous_time = now;
    if s.tilt && now - s.tilt_start > s.timings.tilt_period {
        s.tilt = false;
        s.event(Level::Warning, "-tilt", "#tilt mode exited".into());
    }
    for mi in 0..s.masters.len() {
        let ask_expiry = s.timings.ask_period * 5;
        for x in &mut s.masters[mi].sentinels {
            if now - x.last_master_down_reply_time > ask_expiry {
                x.master_down = false;
                x.leader = None;
            }
        }
        if s.tilt {
            continue;
        }
        check_sdown(s, Loc::Master(mi), now);
        for i in 0..s.masters[mi].replicas.len() {
            check_sdown(s, Loc::Replica(mi, i), now);
        }
        for i in 0..s.masters[mi].sentinels.len() {
            check_sdown(s, Loc::Sentinel(mi, i), now);
        }
        check_odown(s, mi, now);
        if start_failover_if_needed(s, mi, now) {
            for x in &mut s.masters[mi].sentinels {
                x.force_ask = true;
            }
        }
        state_machine(s, mi, now);
        if s.masters[mi].failover_state == FailoverState::UpdateConfig {
            switch_to_promoted(s, mi);
        }
    }
}

/// `sentinelCheckSubjectivelyDown`.
fn check_sdown(s: &mut Sentinel, loc: Loc, now: Ms) {
    let info_period = s.timings.info_period;
    let reboot_after = s.masters[Sentinel::master_of(loc)].reboot_down_after;
    let i = s.inst(loc);
    let elapsed = if i.link.act_ping_time != 0 {
        now - i.link.act_ping_time
    } else if !i.link.connected {
        now - i.link.last_avail_time
    } else {
        0
    };
    let down = elapsed > i.down_after
        || (i.master_reboot && now - i.master_reboot_since > reboot_after)
        || (i.kind == Kind::Master
            && i.role_reported == Kind::Replica
            && now - i.role_reported_time > i.down_after.saturating_add(2 * info_period));
    if down && !i.s_down {
        let i = s.inst_mut(loc);
        i.s_down = true;
        i.s_down_since = now;
        s.event_at(Level::Warning, "+sdown", loc);
    } else if !down && i.s_down {
        let i = s.inst_mut(loc);
        i.s_down = false;
        i.script_kill_sent = false;
        s.event_at(Level::Warning, "-sdown", loc);
    }
}

/// `sentinelCheckObjectivelyDown`.
fn check_odown(s: &mut Sentinel, mi: usize, now: Ms) {
    let m = &s.masters[mi];
    let mut count = 0;
    if m.inst.s_down {
        count = 1 + m.sentinels.iter().filter(|x| x.master_down).count() as u32;
    }
    let odown = m.inst.s_down && count >= m.quorum;
    if odown && !m.inst.o_down {
        let q = m.quorum;
        let m = &mut s.masters[mi];
        m.inst.o_down = true;
        m.inst.o_down_since = now;
        let d = s.describe(Loc::Master(mi));
        s.event_m(
            Level::Warning,
            "+odown",
            mi,
            format!("{d} #quorum {count}/{q}"),
        );
    } else if !odown && m.inst.o_down {
        s.masters[mi].inst.o_down = false;
        s.event_at(Level::Warning, "-odown", Loc::Master(mi));
    }
}

fn ctime(ms: Ms) -> String {
    let t: libc::time_t = (ms / 1000) as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into the 64-byte buffer and reads `t`.
    let p = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: ctime_r returned a NUL-terminated string inside `buf`.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    s.to_string_lossy().trim_end().to_string()
}

/// Starts a failover (state wait_start) when the master is ODOWN and no failover was tried
/// recently. Returns whether one started.
fn start_failover_if_needed(s: &mut Sentinel, mi: usize, now: Ms) -> bool {
    let m = &s.masters[mi];
    if !m.inst.o_down || m.failover_in_progress {
        return false;
    }
    let retry_after = m.failover_timeout.saturating_mul(2);
    if now - m.failover_start_time < retry_after {
        if m.failover_delay_logged != m.failover_start_time {
            let when = ctime(m.failover_start_time.saturating_add(retry_after));
            s.masters[mi].failover_delay_logged = s.masters[mi].failover_start_time;
            tracing::warn!("Next failover delay: I will not start a failover before {when}");
        }
        return false;
    }
    start_failover(s, mi, now);
    true
}

pub fn start_failover(s: &mut Sentinel, mi: usize, now: Ms) {
    s.current_epoch = s.current_epoch.saturating_add(1);
    let epoch = s.current_epoch;
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::WaitStart;
    m.failover_in_progress = true;
    m.failover_epoch = epoch;
    s.event_m(Level::Warning, "+new-epoch", mi, epoch.to_string());
    s.event_at(Level::Warning, "+try-failover", Loc::Master(mi));
    let jitter = {
        use rand::Rng;
        rand::rng().random_range(0..1000)
    };
    let m = &mut s.masters[mi];
    m.failover_start_time = now + jitter;
    m.failover_state_change_time = now;
}

/// `sentinelGetLeader`: the sentinel with a majority of the votes for `epoch` (and at least
/// `quorum` of them), voting ourselves for the front-runner (or for us).
pub fn get_leader(s: &mut Sentinel, mi: usize, epoch: u64) -> Option<String> {
    let voters = s.masters[mi].sentinels.len() + 1;
    let mut counts: Vec<(String, usize)> = Vec::new();
    let bump = |counts: &mut Vec<(String, usize)>, who: &str| match counts
        .iter_mut()
        .find(|(r, _)| r == who)
    {
        Some((_, n)) => *n += 1,
        None => counts.push((who.to_string(), 1)),
    };
    for x in &s.masters[mi].sentinels {
        if let Some(l) = &x.leader {
            if x.leader_epoch == s.current_epoch {
                bump(&mut counts, l);
            }
        }
    }
    let best = |counts: &Vec<(String, usize)>| {
        let mut w: Option<(String, usize)> = None;
        for (r, n) in counts {
            if w.as_ref().is_none_or(|(_, m)| n > m) {
                w = Some((r.clone(), *n));
            }
        }
        w
    };
    let front = best(&counts).map(|(r, _)| r);
    let candidate = front.unwrap_or_else(|| s.myid.clone());
    let (my_vote, my_epoch) = s.vote_leader(mi, epoch, &candidate);
    if let Some(v) = my_vote {
        if my_epoch == epoch {
            bump(&mut counts, &v);
        }
    }
    let (winner, votes) = best(&counts)?;
    let quorum = s.masters[mi].quorum as usize;
    if votes < voters / 2 + 1 || votes < quorum {
        return None;
    }
    Some(winner)
}

fn abort(s: &mut Sentinel, mi: usize, now: Ms) {
    let m = &mut s.masters[mi];
    m.failover_in_progress = false;
    m.force_failover = false;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = now;
    if let Some(id) = m.promoted.take() {
        if let Some(r) = m.replicas.iter_mut().find(|r| r.id == id) {
            r.promoted = false;
        }
    }
}

fn set_state(s: &mut Sentinel, mi: usize, st: FailoverState, now: Ms) {
    let m = &mut s.masters[mi];
    m.failover_state = st;
    m.failover_state_change_time = now;
}

/// `sentinelSelectSlave`: the best replica to promote, as an index into `replicas`.
pub fn select_slave(s: &Sentinel, mi: usize, now: Ms) -> Option<usize> {
    let m = &s.masters[mi];
    let mut max_master_down = 0;
    if m.inst.s_down {
        max_master_down += now - m.inst.s_down_since;
    }
    max_master_down = max_master_down.saturating_add(m.inst.down_after.saturating_mul(10));
    let info_validity = if m.inst.s_down {
        s.timings.ping_period * 5
    } else {
        s.timings.info_period * 3
    };
    let mut cands: Vec<usize> = (0..m.replicas.len())
        .filter(|&i| {
            let r = &m.replicas[i];
            !r.s_down
                && !r.o_down
                && r.link.connected
                && now - r.link.last_avail_time <= s.timings.ping_period * 5
                && r.slave_priority != 0
                && r.info_refresh != 0
                && now - r.info_refresh <= info_validity
                && r.master_link_down_time <= max_master_down
        })
        .collect();
    cands.sort_by(|&a, &b| {
        let (a, b) = (&m.replicas[a], &m.replicas[b]);
        a.slave_priority
            .cmp(&b.slave_priority)
            .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
            .then_with(|| match (&a.runid, &b.runid) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
            })
    });
    cands.first().copied()
}

fn state_machine(s: &mut Sentinel, mi: usize, now: Ms) {
    if !s.masters[mi].failover_in_progress {
        return;
    }
    match s.masters[mi].failover_state {
        FailoverState::WaitStart => {
            let epoch = s.masters[mi].failover_epoch;
            let leader = get_leader(s, mi, epoch);
            let is_leader = leader.as_deref() == Some(s.myid.as_str());
            let m = &s.masters[mi];
            if !is_leader && !m.force_failover {
                let election_timeout = s.timings.election_timeout.min(m.failover_timeout);
                if now - m.failover_start_time > election_timeout {
                    s.event_at(
                        Level::Warning,
                        "-failover-abort-not-elected",
                        Loc::Master(mi),
                    );
                    abort(s, mi, now);
                }
                return;
            }
            s.event_at(Level::Warning, "+elected-leader", Loc::Master(mi));
            if s.simfailure_flags & super::SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
                tracing::warn!("Simulated crash after election");
                std::process::exit(99);
            }
            set_state(s, mi, FailoverState::SelectSlave, now);
            s.event_at(
                Level::Warning,
                "+failover-state-select-slave",
                Loc::Master(mi),
            );
        }
        FailoverState::SelectSlave => match select_slave(s, mi, now) {
            None => {
                s.event_at(
                    Level::Warning,
                    "-failover-abort-no-good-slave",
                    Loc::Master(mi),
                );
                abort(s, mi, now);
            }
            Some(ri) => {
                let loc = Loc::Replica(mi, ri);
                s.event_at(Level::Warning, "+selected-slave", loc);
                let m = &mut s.masters[mi];
                m.replicas[ri].promoted = true;
                m.promoted = Some(m.replicas[ri].id);
                set_state(s, mi, FailoverState::SendSlaveofNoone, now);
                s.event_at(Level::Notice, "+failover-state-send-slaveof-noone", loc);
            }
        },
        FailoverState::SendSlaveofNoone => {
            let m = &s.masters[mi];
            let Some(ri) = m.replicas.iter().position(|r| Some(r.id) == m.promoted) else {
                abort(s, mi, now);
                return;
            };
            if !m.replicas[ri].link.connected {
                if now - m.failover_state_change_time > m.failover_timeout {
                    s.event_at(
                        Level::Warning,
                        "-failover-abort-slave-timeout",
                        Loc::Master(mi),
                    );
                    abort(s, mi, now);
                }
                return;
            }
            s.masters[mi].replicas[ri].pending_slaveof = Some(None);
            set_state(s, mi, FailoverState::WaitPromotion, now);
            s.event_at(
                Level::Notice,
                "+failover-state-wait-promotion",
                Loc::Replica(mi, ri),
            );
        }
        FailoverState::WaitPromotion => {
            let m = &s.masters[mi];
            if now - m.failover_state_change_time > m.failover_timeout {
                s.event_at(
                    Level::Warning,
                    "-failover-abort-slave-timeout",
                    Loc::Master(mi),
                );
                abort(s, mi, now);
            }
        }
        FailoverState::ReconfSlaves => reconf_next_slave(s, mi, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

/// `sentinelFailoverReconfNextSlave`: SLAVEOF the promoted replica to at most parallel-syncs
/// replicas at a time, then `sentinelFailoverDetectEnd`.
fn reconf_next_slave(s: &mut Sentinel, mi: usize, now: Ms) {
    let Some(target) = s.masters[mi].promoted_replica().map(|p| p.addr()) else {
        return;
    };
    let timeout = s.timings.slave_reconf_timeout;
    let parallel = s.masters[mi].parallel_syncs.max(1) as usize;
    let mut in_progress = s.masters[mi]
        .replicas
        .iter()
        .filter(|r| r.reconf_sent || r.reconf_inprog)
        .count();
    for ri in 0..s.masters[mi].replicas.len() {
        if in_progress >= parallel {
            break;
        }
        let r = &s.masters[mi].replicas[ri];
        if r.promoted || r.reconf_done {
            continue;
        }
        if r.reconf_sent && now - r.slave_reconf_sent_time > timeout {
            s.event_at(
                Level::Notice,
                "-slave-reconf-sent-timeout",
                Loc::Replica(mi, ri),
            );
            let r = &mut s.masters[mi].replicas[ri];
            r.reconf_sent = false;
            r.reconf_done = true;
            continue;
        }
        if r.reconf_sent || r.reconf_inprog || !r.link.connected {
            continue;
        }
        let r = &mut s.masters[mi].replicas[ri];
        r.pending_slaveof = Some(Some(target.clone()));
        r.reconf_sent = true;
        r.slave_reconf_sent_time = now;
        s.event_at(Level::Notice, "+slave-reconf-sent", Loc::Replica(mi, ri));
        in_progress += 1;
    }
    detect_end(s, mi, now, &target);
}

fn detect_end(s: &mut Sentinel, mi: usize, now: Ms, target: &(String, u16)) {
    let m = &s.masters[mi];
    if m.promoted_replica().is_none_or(|p| p.s_down) {
        return;
    }
    let mut not_reconfigured = m
        .replicas
        .iter()
        .filter(|r| !(r.promoted || r.reconf_done || r.s_down))
        .count();
    let mut timed_out = false;
    if not_reconfigured > 0 && now - m.failover_state_change_time > m.failover_timeout {
        not_reconfigured = 0;
        timed_out = true;
        s.event_at(Level::Warning, "+failover-end-for-timeout", Loc::Master(mi));
    }
    if not_reconfigured == 0 {
        s.event_at(Level::Warning, "+failover-end", Loc::Master(mi));
        set_state(s, mi, FailoverState::UpdateConfig, now);
    }
    if timed_out {
        for ri in 0..s.masters[mi].replicas.len() {
            let r = &s.masters[mi].replicas[ri];
            if r.promoted || r.reconf_done || r.reconf_sent {
                continue;
            }
            let r = &mut s.masters[mi].replicas[ri];
            r.pending_slaveof = Some(Some(target.clone()));
            r.reconf_sent = true;
            s.event_at(Level::Notice, "+slave-reconf-sent-be", Loc::Replica(mi, ri));
        }
    }
}

/// `sentinelFailoverSwitchToPromotedSlave`.
fn switch_to_promoted(s: &mut Sentinel, mi: usize) {
    let m = &s.masters[mi];
    let (nip, nport) = m
        .promoted_replica()
        .map(|p| p.addr())
        .unwrap_or(m.inst.addr());
    let (oip, oport) = m.inst.addr();
    let name = m.inst.name.clone();
    s.event_m(
        Level::Warning,
        "+switch-master",
        mi,
        format!("{name} {oip} {oport} {nip} {nport}"),
    );
    s.reset_master_address(mi, &nip, nport);
    s.flush_config();
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

    #[test]
    fn one_vote_per_epoch_and_epoch_adoption() {
        let mut s = state();
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        assert_eq!(s.vote_leader(0, 3, &b), (Some(b.clone()), 3));
        assert_eq!(s.current_epoch, 3);
        // A second request in the same epoch gets the earlier vote back.
        assert_eq!(s.vote_leader(0, 3, &c), (Some(b.clone()), 3));
        assert_eq!(s.vote_leader(0, 4, &c), (Some(c.clone()), 4));
        // Voting for someone else delays our own failover.
        assert!(s.masters[0].failover_start_time > 0);
    }

    #[test]
    fn leader_needs_majority_and_quorum() {
        let mut s = state();
        let b = "b".repeat(40);
        s.add_sentinel(0, "127.0.0.1", 26380, &b);
        s.add_sentinel(0, "127.0.0.1", 26381, &"c".repeat(40));
        s.current_epoch = 1;
        // Only our own vote: 1 of 3 voters.
        assert_eq!(get_leader(&mut s, 0, 1), None);
        let me = s.myid.clone();
        s.masters[0].sentinels[0].leader = Some(me.clone());
        s.masters[0].sentinels[0].leader_epoch = 1;
        assert_eq!(get_leader(&mut s, 0, 1), Some(me));
    }

    #[test]
    fn replica_selection_order() {
        let mut s = state();
        let now = mstime();
        for (port, prio, off, runid) in [
            (7001, 100, 10, "b"),
            (7002, 50, 5, "c"),
            (7003, 0, 99, "d"),
            (7004, 50, 5, "a"),
        ] {
            s.add_replica(0, "127.0.0.1", port);
            let r = s.masters[0].replicas.last_mut().unwrap();
            r.slave_priority = prio;
            r.slave_repl_offset = off;
            r.runid = Some(runid.repeat(40));
            r.link.connected = true;
            r.link.last_avail_time = now;
            r.info_refresh = now;
        }
        // Priority 0 is never chosen; lower priority wins, then offset, then runid.
        assert_eq!(select_slave(&s, 0, now), Some(3));
        s.masters[0].replicas[3].s_down = true;
        assert_eq!(select_slave(&s, 0, now), Some(1));
    }

    #[test]
    fn hello_switches_master_on_newer_config_epoch() {
        let mut s = state();
        s.add_replica(0, "127.0.0.1", 7001);
        let b = "b".repeat(40);
        links::process_hello(&mut s, &format!("127.0.0.1,26380,{b},0,m,127.0.0.1,7000,0"));
        assert_eq!(s.masters[0].sentinels.len(), 1);
        links::process_hello(&mut s, &format!("127.0.0.1,26380,{b},2,m,127.0.0.1,7001,2"));
        assert_eq!(s.current_epoch, 2);
        assert_eq!(s.masters[0].inst.addr(), ("127.0.0.1".to_string(), 7001));
        assert_eq!(s.masters[0].config_epoch, 2);
        let r: Vec<u16> = s.masters[0].replicas.iter().map(|r| r.port).collect();
        assert_eq!(r, vec![7000]);
        assert!(s
            .pending_events
            .iter()
            .any(|(k, v)| k == "+switch-master" && v == "m 127.0.0.1 7000 127.0.0.1 7001"));
    }
}
