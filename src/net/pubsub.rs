//! The pub/sub registry of one shard: which of the connections living on this shard subscribe
//! to which channels, patterns and shard channels, and the mailbox each subscribed connection
//! drains.
//!
//! Connections stay on the shard that accepted them, so each shard keeps the subscriptions of
//! its own connections (one registry per shard thread, thread-per-core) and PUBLISH runs
//! [`publish_local`] on every shard over the mesh, summing the receivers. Messages are framed
//! for the subscriber's protocol (RESP2 array, RESP3 push) when delivered and queued in its
//! [`Subscriber`]; the connection loop waits on "input or messages" and writes them.

use super::client::ClientHandle;
use crate::commands::glob::stringmatch;
use crate::keyspace::notify::{self, Event};
use crate::resp::{Proto, ReplyBuf};
use crate::shard::{Mesh, Shard};
use bytes::{Bytes, BytesMut};
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

/// The three namespaces: SUBSCRIBE channels, PSUBSCRIBE patterns, SSUBSCRIBE shard channels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    Shard = 2,
}

/// One subscribed connection: its subscriptions and the messages waiting to be written.
pub struct Subscriber {
    pub id: u64,
    proto: Cell<Proto>,
    subs: RefCell<[Vec<Bytes>; 3]>,
    pending: RefCell<BytesMut>,
    waker: RefCell<Option<Waker>>,
    /// The connection, closed when its pending output passes `client-output-buffer-limit
    /// pubsub`.
    client: RefCell<Option<Rc<ClientHandle>>>,
    /// Unix second since when the soft limit has been passed without a break (0: not).
    soft_since: Cell<i64>,
    /// Closed for passing the limits: messages are dropped.
    closed: Cell<bool>,
    /// The connection has CLIENT TRACKING on: it waits for invalidations even when it
    /// subscribes to nothing.
    tracking: Cell<bool>,
}

/// Channel and pattern subscriptions over all shards, so keyspace events skip the fan-out
/// when nobody could receive them.
static CHANNEL_SUBSCRIPTIONS: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
struct Registry {
    by_kind: [HashMap<Bytes, Vec<Rc<Subscriber>>>; 3],
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

impl Subscriber {
    pub fn new(id: u64, proto: Proto) -> Rc<Subscriber> {
        Rc::new(Subscriber {
            id,
            proto: Cell::new(proto),
            subs: RefCell::new([Vec::new(), Vec::new(), Vec::new()]),
            pending: RefCell::new(BytesMut::new()),
            waker: RefCell::new(None),
            client: RefCell::new(None),
            soft_since: Cell::new(0),
            closed: Cell::new(false),
            tracking: Cell::new(false),
        })
    }

    /// The connection to close when its output passes the pubsub limits.
    pub fn set_client(&self, client: Rc<ClientHandle>) {
        *self.client.borrow_mut() = Some(client);
    }

    /// Messages are framed for this protocol from now on (HELLO may switch it).
    pub fn set_proto(&self, proto: Proto) {
        self.proto.set(proto);
    }

    pub fn proto(&self) -> Proto {
        self.proto.get()
    }

    pub fn set_tracking(&self, on: bool) {
        self.tracking.set(on);
    }

    /// Whether the connection waits for messages: subscribed, or tracking keys.
    pub fn listening(&self) -> bool {
        self.tracking.get() || self.active()
    }

    pub fn subscriptions(&self, kind: Kind) -> Vec<Bytes> {
        self.subs.borrow()[kind as usize].clone()
    }

    /// The count Redis replies with: channels + patterns for (P)SUBSCRIBE, shard channels for
    /// SSUBSCRIBE.
    pub fn count(&self, kind: Kind) -> usize {
        let s = self.subs.borrow();
        match kind {
            Kind::Shard => s[2].len(),
            _ => s[0].len() + s[1].len(),
        }
    }

    /// How many subscriptions of exactly this kind (CLIENT LIST sub/psub/ssub).
    pub fn count_of(&self, kind: Kind) -> usize {
        self.subs.borrow()[kind as usize].len()
    }

    /// Whether the connection is in subscribed mode (any subscription at all).
    pub fn active(&self) -> bool {
        self.subs.borrow().iter().any(|v| !v.is_empty())
    }

    /// Takes the messages queued so far (empty when none).
    pub fn take_pending(&self) -> Bytes {
        self.pending.borrow_mut().split().freeze()
    }

    /// Waits until at least one message is queued and takes them.
    pub async fn wait(&self) -> Bytes {
        std::future::poll_fn(|cx| {
            if !self.pending.borrow().is_empty() {
                return Poll::Ready(self.take_pending());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    fn deliver(&self, parts: &[&[u8]]) {
        if self.closed.get() {
            return;
        }
        let mut out = ReplyBuf::new(self.proto.get());
        out.push(parts.len());
        for p in parts {
            out.bulk(p);
        }
        self.deliver_raw(&out.buf);
    }

    /// Queues an already framed message (client tracking's invalidations).
    pub fn deliver_raw(&self, frame: &[u8]) {
        if self.closed.get() {
            return;
        }
        let used = {
            let mut pending = self.pending.borrow_mut();
            pending.extend_from_slice(frame);
            pending.len() as u64
        };
        if super::obuf::over_limit(
            super::obuf::Class::Pubsub,
            used,
            super::obuf::now_secs(),
            &self.soft_since,
        ) {
            self.close_for_output_limit();
            return;
        }
        // Take the waker out before waking: the woken task may run at once and borrow it.
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Subscriber {
    /// Drops the pending output and closes the connection (Redis's freeClientAsync after
    /// checkClientOutputBufferLimits).
    #[cold]
    fn close_for_output_limit(&self) {
        self.closed.set(true);
        *self.pending.borrow_mut() = BytesMut::new();
        let client = self.client.borrow().clone();
        if let Some(c) = client {
            super::obuf::close(&c);
        }
        // Wake the connection so it notices it was killed even when it is not writing.
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Adds a subscription; false when it already existed.
pub fn subscribe(sub: &Rc<Subscriber>, kind: Kind, name: &Bytes) -> bool {
    {
        let mut s = sub.subs.borrow_mut();
        let list = &mut s[kind as usize];
        if list.contains(name) {
            return false;
        }
        list.push(name.clone());
    }
    REGISTRY.with(|r| {
        r.borrow_mut().by_kind[kind as usize]
            .entry(name.clone())
            .or_default()
            .push(sub.clone())
    });
    if kind != Kind::Shard {
        CHANNEL_SUBSCRIPTIONS.fetch_add(1, Ordering::Relaxed);
    }
    true
}

/// Removes a subscription; false when there was none.
pub fn unsubscribe(sub: &Subscriber, kind: Kind, name: &[u8]) -> bool {
    {
        let mut s = sub.subs.borrow_mut();
        let list = &mut s[kind as usize];
        let Some(i) = list.iter().position(|n| n == name) else {
            return false;
        };
        list.remove(i);
    }
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        let map = &mut r.by_kind[kind as usize];
        if let Some(v) = map.get_mut(name) {
            v.retain(|s| s.id != sub.id);
            if v.is_empty() {
                map.remove(name);
            }
        }
    });
    if kind != Kind::Shard {
        CHANNEL_SUBSCRIPTIONS.fetch_sub(1, Ordering::Relaxed);
    }
    true
}

/// Drops every subscription of a connection (RESET, disconnect).
pub fn detach(sub: &Subscriber) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in sub.subscriptions(kind) {
            unsubscribe(sub, kind, &name);
        }
    }
}

/// Delivers a message to this shard's subscribers of `channel` (and, for [`Kind::Channel`], of
/// every matching pattern); returns how many received it.
pub fn publish_local(kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    REGISTRY.with(|r| {
        let r = r.borrow();
        let mut n = 0;
        let (name, pname): (&[u8], &[u8]) = match kind {
            Kind::Shard => (b"smessage", b""),
            _ => (b"message", b"pmessage"),
        };
        if let Some(subs) = r.by_kind[kind as usize].get(channel) {
            for s in subs {
                s.deliver(&[name, channel, message]);
                n += 1;
            }
        }
        if kind == Kind::Channel {
            for (pattern, subs) in &r.by_kind[Kind::Pattern as usize] {
                if stringmatch(pattern, channel, false) {
                    for s in subs {
                        s.deliver(&[pname, pattern, channel, message]);
                        n += 1;
                    }
                }
            }
        }
        n
    })
}

/// Publishes keyspace events (see [`crate::keyspace::notify`]) to the subscribers of every
/// shard, and returns once all have them queued, so the events of one command reach a
/// subscriber before those of the next.
pub async fn publish_events(shard: &Rc<Shard>, mut events: Vec<Event>) {
    // Key modifications nobody claimed (expiries, evictions found by the cron): their
    // invalidations, with no current client.
    let modified = super::tracking::split_modified(&mut events);
    super::tracking::invalidate(shard, modified, None).await;
    if events.is_empty() {
        return;
    }
    if CHANNEL_SUBSCRIPTIONS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let events = Arc::new(events);
    Mesh::run_on_all(shard, move |_| publish_events_local(&events)).await;
}

/// [`publish_events`] on this shard.
pub fn publish_events_local(events: &[Event]) {
    if REGISTRY.with(|r| r.borrow().by_kind.iter().take(2).all(|m| m.is_empty())) {
        return;
    }
    let flags = notify::flags();
    for e in events {
        for (channel, message) in notify::publications(flags, e) {
            publish_local(Kind::Channel, &channel, &message);
        }
    }
}

/// This shard's subscribed connection `id`, if any.
pub fn find_local(id: u64) -> Option<Rc<Subscriber>> {
    REGISTRY.with(|r| {
        r.borrow()
            .by_kind
            .iter()
            .flat_map(|m| m.values())
            .flat_map(|v| v.iter())
            .find(|s| s.id == id)
            .cloned()
    })
}

/// This shard's channels (or patterns) with at least one subscriber, optionally filtered by a
/// glob pattern.
pub fn names_local(kind: Kind, filter: Option<&[u8]>) -> Vec<Bytes> {
    REGISTRY.with(|r| {
        r.borrow().by_kind[kind as usize]
            .keys()
            .filter(|k| filter.is_none_or(|p| stringmatch(p, k, false)))
            .cloned()
            .collect()
    })
}

/// This shard's subscriber count of each name.
pub fn numsub_local(kind: Kind, names: &[Bytes]) -> Vec<usize> {
    REGISTRY.with(|r| {
        let r = r.borrow();
        names
            .iter()
            .map(|n| r.by_kind[kind as usize].get(n).map_or(0, |v| v.len()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_in_their_protocol() {
        let a = Subscriber::new(1, Proto::Resp2);
        let b = Subscriber::new(2, Proto::Resp3);
        assert!(subscribe(&a, Kind::Channel, &Bytes::from_static(b"news")));
        assert!(!subscribe(&a, Kind::Channel, &Bytes::from_static(b"news")));
        assert!(subscribe(&b, Kind::Pattern, &Bytes::from_static(b"n*")));
        assert_eq!(publish_local(Kind::Channel, b"news", b"hi"), 2);
        assert_eq!(
            &a.take_pending()[..],
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            &b.take_pending()[..],
            b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(publish_local(Kind::Shard, b"news", b"hi"), 0);
        assert_eq!(
            numsub_local(Kind::Channel, &[Bytes::from_static(b"news")]),
            vec![1]
        );
        assert_eq!(a.count(Kind::Channel), 1);
        assert_eq!(b.count(Kind::Channel), 1);
        detach(&a);
        detach(&b);
        assert!(!a.active());
        assert_eq!(publish_local(Kind::Channel, b"news", b"hi"), 0);
        assert!(names_local(Kind::Pattern, None).is_empty());
    }
}
