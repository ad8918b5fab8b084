//! Server-assisted client-side caching on the data node (Redis's `tracking.c`): which client
//! may have cached which key, and the invalidation messages sent when a key changes.
//!
//! One table for the whole process (a key is invalidated whichever shard it lives on and
//! whichever shard its tracking clients live on), behind a mutex that is only taken while at
//! least one client has tracking on; otherwise the keyspace records nothing
//! ([`crate::keyspace::notify::tracking`]). Modified keys travel to the command's coordinator
//! with its keyspace events (the [`notify::TRACK`] pseudo-event), which calls [`invalidate`]
//! knowing the current client (NOLOOP). Messages are framed and queued on the shard of the
//! connection that receives them, in its pub/sub mailbox ([`Subscriber`]): an RESP3 push
//! `invalidate [keys]`, or in RESP2 redirect mode a `message` on `__redis__:invalidate` for a
//! target subscribed to something.

pub mod options;

use super::pubsub::Subscriber;
use crate::keyspace::notify::{self, Event};
use crate::resp::Proto;
use crate::shard::{Mesh, Shard};
use bytes::Bytes;
use hashbrown::HashMap;
use options::Tracking;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, MutexGuard};

/// One tracking client: its options, its shard, and the shard of its redirect target.
struct Client {
    t: Tracking,
    shard: usize,
    redirect_shard: usize,
}

#[derive(Default)]
struct State {
    clients: HashMap<u64, Client>,
    /// Key → the clients (default mode) that read it since its last invalidation.
    table: HashMap<Bytes, Vec<u64>>,
    items: usize,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The mailboxes of this shard's tracking connections (RESP3 pushes reach them even when
    /// they subscribe to nothing).
    static LOCAL: RefCell<HashMap<u64, Weak<Subscriber>>> = RefCell::new(HashMap::new());
}

/// One message to send: to client `target` on `shard`, about `keys` (None: everything, after
/// a flush).
#[derive(Clone)]
struct Delivery {
    shard: usize,
    target: u64,
    redirect: bool,
    keys: Option<Vec<Bytes>>,
}

/// A connection's tracking options (off when it never enabled tracking).
pub fn options_of(id: u64) -> Tracking {
    if !notify::tracking() {
        return Tracking::default();
    }
    state()
        .as_ref()
        .and_then(|s| s.clients.get(&id).map(|c| c.t.clone()))
        .unwrap_or_default()
}

/// Stores a connection's options after CLIENT TRACKING / CACHING: on registers it (its
/// mailbox `sub` lives on `shard`), off forgets it.
pub fn set_options(
    id: u64,
    shard: usize,
    redirect_shard: usize,
    t: Tracking,
    sub: Option<&Rc<Subscriber>>,
) {
    let mut g = state();
    let s = g.get_or_insert_with(State::default);
    if t.on {
        s.clients.insert(
            id,
            Client {
                t,
                shard,
                redirect_shard,
            },
        );
        if let Some(sub) = sub {
            sub.set_tracking(true);
            LOCAL.with(|l| l.borrow_mut().insert(id, Rc::downgrade(sub)));
        }
    } else {
        s.clients.remove(&id);
        LOCAL.with(|l| l.borrow_mut().remove(&id));
        if let Some(sub) = sub {
            sub.set_tracking(false);
        }
    }
    notify::set_tracking(!s.clients.is_empty());
}

/// Stores new options of a tracking connection (CLIENT CACHING).
pub fn update(id: u64, t: Tracking) {
    if let Some(c) = state().as_mut().and_then(|s| s.clients.get_mut(&id)) {
        c.t = t;
    }
}

/// The connection closed (or RESET): tracking off.
pub fn disconnect(id: u64) {
    if !notify::tracking() {
        return;
    }
    let mut g = state();
    if let Some(s) = g.as_mut() {
        s.clients.remove(&id);
        notify::set_tracking(!s.clients.is_empty());
    }
    LOCAL.with(|l| l.borrow_mut().remove(&id));
}

/// After a command of client `id` ran: a read-only command's keys are remembered for it
/// (Redis's trackingRememberKeys, with OPTIN/OPTOUT and CLIENT CACHING), and the CACHING
/// flag is spent unless the command was CLIENT itself. `max_keys`:
/// `tracking-table-max-keys` (0: no limit).
pub async fn after_command(
    shard: &Rc<Shard>,
    id: u64,
    readonly: bool,
    is_client: bool,
    keys: impl Iterator<Item = Bytes>,
    max_keys: usize,
) {
    if !notify::tracking() {
        return;
    }
    let evicted = {
        let mut g = state();
        let Some(s) = g.as_mut() else { return };
        let Some(c) = s.clients.get_mut(&id) else {
            return;
        };
        let t = &mut c.t;
        let skip = (t.optin && !t.caching) || (t.optout && t.caching);
        if !is_client {
            t.caching = false;
        }
        if !readonly || t.bcast || skip {
            return;
        }
        for k in keys {
            let ids = s.table.entry(k).or_default();
            if !ids.contains(&id) {
                ids.push(id);
                s.items += 1;
            }
        }
        // trackingLimitUsedSlots: past the limit, keys leave the table with an
        // invalidation, as if modified.
        let mut evicted = Vec::new();
        if max_keys > 0 && s.table.len() > max_keys {
            let over = s.table.len() - max_keys;
            evicted.extend(s.table.keys().take(over).cloned());
        }
        invalidate_locked(s, &evicted, None)
    };
    send(shard, evicted).await;
}

/// Takes the key modifications (the [`notify::TRACK`] pseudo-events) out of a command's
/// keyspace events, each key once.
pub fn split_modified(events: &mut Vec<Event>) -> Vec<Bytes> {
    let mut keys: Vec<Bytes> = Vec::new();
    if !events.iter().any(|e| e.event == notify::TRACK) {
        return keys;
    }
    events.retain(|e| {
        if e.event != notify::TRACK {
            return true;
        }
        if !keys.contains(&e.key) {
            keys.push(e.key.clone());
        }
        false
    });
    keys
}

/// Sends the invalidations of modified `keys`; `current`: the client whose command made
/// them (NOLOOP), None for expiries and evictions found by the cron.
pub async fn invalidate(shard: &Rc<Shard>, keys: Vec<Bytes>, current: Option<u64>) {
    if keys.is_empty() {
        return;
    }
    let out = {
        let mut g = state();
        match g.as_mut() {
            Some(s) => invalidate_locked(s, &keys, current),
            None => Vec::new(),
        }
    };
    send(shard, out).await;
}

/// FLUSHALL / FLUSHDB: every tracking client is told to drop everything (a null key list),
/// and the table is emptied (Redis's trackingInvalidateKeysOnFlush).
pub async fn flush(shard: &Rc<Shard>) {
    if !notify::tracking() {
        return;
    }
    let out = {
        let mut g = state();
        let Some(s) = g.as_mut() else { return };
        s.table.clear();
        s.items = 0;
        s.clients
            .iter()
            .map(|(id, c)| delivery(*id, c, None))
            .collect()
    };
    send(shard, out).await;
}

/// INFO: tracking_clients, tracking_total_keys, tracking_total_items, tracking_total_prefixes.
pub fn counts() -> (usize, usize, usize, usize) {
    if !notify::tracking() {
        return (0, 0, 0, 0);
    }
    let g = state();
    let Some(s) = g.as_ref() else {
        return (0, 0, 0, 0);
    };
    let mut prefixes: Vec<&Vec<u8>> = s
        .clients
        .values()
        .filter(|c| c.t.bcast)
        .flat_map(|c| c.t.prefixes.iter())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    (s.clients.len(), s.table.len(), s.items, prefixes.len())
}

fn delivery(id: u64, c: &Client, keys: Option<Vec<Bytes>>) -> Delivery {
    let redirect = c.t.redirect > 0;
    Delivery {
        shard: if redirect { c.redirect_shard } else { c.shard },
        target: if redirect { c.t.redirect as u64 } else { id },
        redirect,
        keys,
    }
}

/// Redis's trackingInvalidateKey for each key (one message per key and client), then the
/// BCAST clients: one message per client and matching prefix with all its keys.
fn invalidate_locked(s: &mut State, keys: &[Bytes], current: Option<u64>) -> Vec<Delivery> {
    let mut out = Vec::new();
    if keys.is_empty() {
        return out;
    }
    for k in keys {
        let Some(ids) = s.table.remove(k) else {
            continue;
        };
        s.items -= ids.len();
        for id in ids {
            let Some(c) = s.clients.get(&id) else {
                continue;
            };
            if c.t.bcast || (c.t.noloop && current == Some(id)) {
                continue;
            }
            out.push(delivery(id, c, Some(vec![k.clone()])));
        }
    }
    for (id, c) in &s.clients {
        if !c.t.bcast || (c.t.noloop && current == Some(*id)) {
            continue;
        }
        for p in &c.t.prefixes {
            let matched: Vec<Bytes> = keys.iter().filter(|k| k.starts_with(p)).cloned().collect();
            if !matched.is_empty() {
                out.push(delivery(*id, c, Some(matched)));
            }
        }
    }
    out
}

async fn send(shard: &Rc<Shard>, out: Vec<Delivery>) {
    if out.is_empty() {
        return;
    }
    if out.iter().all(|d| d.shard == shard.id) {
        deliver_local(shard.id, &out);
        return;
    }
    let out = Arc::new(out);
    Mesh::run_on_all(shard, move |sh| deliver_local(sh.id, &out)).await;
}

/// Queues this shard's share of `out` in the receivers' mailboxes (sendTrackingMessage).
fn deliver_local(shard: usize, out: &[Delivery]) {
    for d in out.iter().filter(|d| d.shard == shard) {
        let sub = LOCAL
            .with(|l| l.borrow().get(&d.target).and_then(Weak::upgrade))
            .or_else(|| super::pubsub::find_local(d.target));
        let Some(sub) = sub else { continue };
        let mut frame = Vec::new();
        if sub.proto() == Proto::Resp3 {
            frame.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
            keys_frame(&mut frame, &d.keys, b"_\r\n");
        } else if d.redirect && sub.active() {
            frame.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
            keys_frame(&mut frame, &d.keys, b"$-1\r\n");
        } else {
            // RESP2 without redirection has no way to carry a message.
            continue;
        }
        sub.deliver_raw(&frame);
    }
}

fn keys_frame(out: &mut Vec<u8>, keys: &Option<Vec<Bytes>>, null: &[u8]) {
    match keys {
        None => out.extend_from_slice(null),
        Some(keys) => {
            out.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in keys {
                out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(shard: usize, opts: &[&str]) -> Client {
        let mut t = Tracking::default();
        let mut argv: Vec<Bytes> = ["client", "tracking", "on"]
            .iter()
            .chain(opts.iter())
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        argv.shrink_to_fit();
        let _ = t.tracking(&argv, |_| true);
        Client {
            t,
            shard,
            redirect_shard: 1,
        }
    }

    #[test]
    fn default_mode_invalidates_each_key_once_and_honours_noloop() {
        let mut s = State::default();
        s.clients.insert(1, client(0, &[]));
        s.clients.insert(2, client(1, &["noloop"]));
        s.clients.insert(3, client(0, &["redirect", "9"]));
        for id in [1, 2, 3] {
            s.table
                .entry(Bytes::from_static(b"k"))
                .or_default()
                .push(id);
            s.items += 1;
        }
        let out = invalidate_locked(&mut s, &[Bytes::from_static(b"k")], Some(2));
        let targets: Vec<(u64, usize, bool)> = out
            .iter()
            .map(|d| (d.target, d.shard, d.redirect))
            .collect();
        assert_eq!(targets.len(), 2);
        assert!(targets.contains(&(1, 0, false)));
        assert!(targets.contains(&(9, 1, true)));
        assert_eq!(s.items, 0);
        assert!(invalidate_locked(&mut s, &[Bytes::from_static(b"k")], None).is_empty());
    }

    #[test]
    fn bcast_groups_keys_by_prefix() {
        let mut s = State::default();
        s.clients
            .insert(1, client(0, &["bcast", "prefix", "a:", "prefix", "b:"]));
        let keys = [b"a:1", b"b:1", b"a:2", b"c:1"].map(|k| Bytes::copy_from_slice(k));
        let out = invalidate_locked(&mut s, &keys, None);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].keys.as_ref().map(Vec::len), Some(2));
        assert_eq!(out[1].keys.as_ref().map(Vec::len), Some(1));
    }
}
