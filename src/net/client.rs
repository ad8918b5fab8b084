//! What the rest of the server can see of a connection (CLIENT LIST / INFO / KILL): a handle
//! owned by the shard that accepted it and updated by the connection as it runs.

use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::time::Instant;

#[derive(Default, Clone)]
pub struct ClientInfo {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: &'static str,
    /// Query buffer: bytes received and not parsed yet, and what its allocation has free.
    pub qbuf: usize,
    pub qbuf_free: usize,
    /// Reply bytes the kernel has not taken yet (Redis's omem), and the memory the
    /// connection's buffers hold in all (tot-mem).
    pub omem: usize,
    pub tot_mem: usize,
    pub multi: i64,
    pub flags: String,
    pub no_evict: bool,
    pub no_touch: bool,
    pub user: &'static str,
    /// Subscriptions: channels, patterns, shard channels.
    pub subs: [usize; 3],
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created: Instant,
    pub last_interaction: Cell<Instant>,
    pub info: RefCell<ClientInfo>,
    /// Set by CLIENT KILL; the connection closes at its next chance.
    pub killed: Cell<bool>,
    pub is_unix: bool,
    /// Set while the client waits in a blocking command (BLPOP & co; CLIENT UNBLOCK ends it).
    pub blocked: RefCell<Option<std::sync::Arc<crate::shard::blocking::Waiter>>>,
    /// The peer closed the connection while a blocking command waited.
    pub eof: Cell<bool>,
    /// Second since when its output has passed the soft output buffer limit (0: not).
    pub obuf_soft_since: Cell<i64>,
}

impl ClientHandle {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, is_unix: bool) -> ClientHandle {
        let now = Instant::now();
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: now,
            last_interaction: Cell::new(now),
            info: RefCell::new(ClientInfo {
                resp: 2,
                user: "default",
                last_cmd: "NULL",
                multi: -1,
                ..Default::default()
            }),
            killed: Cell::new(false),
            is_unix,
            blocked: RefCell::new(None),
            eof: Cell::new(false),
            obuf_soft_since: Cell::new(0),
        }
    }

    /// Closes the connection from outside: marks it and shuts the socket down so a pending
    /// read returns at once.
    pub fn kill(&self) {
        self.killed.set(true);
        // SAFETY: fd belongs to the live connection this handle describes; shutdown does not
        // close or invalidate it, it only makes pending and future I/O on it fail/EOF.
        if self.fd >= 0 {
            unsafe {
                libc::shutdown(self.fd, libc::SHUT_RDWR);
            }
        }
    }

    /// One CLIENT LIST line (without the trailing newline), fields as Redis 7.0 prints them.
    pub fn list_line(&self, now: Instant) -> String {
        let i = self.info.borrow();
        let age = now.duration_since(self.created).as_secs();
        let idle = now.duration_since(self.last_interaction.get()).as_secs();
        let blocked = self.blocked.borrow().is_some();
        let flags = match (i.flags.is_empty(), blocked) {
            (true, false) => "N".to_string(),
            (_, true) => format!("{}b", i.flags),
            (false, false) => i.flags.clone(),
        };
        let name = i
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let lib_name = i
            .lib_name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let lib_ver = i
            .lib_ver
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let (addr, laddr) = if self.is_unix {
            (format!("{}:0", self.addr), self.laddr.clone())
        } else {
            (self.addr.clone(), self.laddr.clone())
        };
        let mut line = format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem={} tot-mem={} events={} cmd={} user={} redir=-1 resp={}",
            self.id, addr, laddr, self.fd, name, age, idle, flags, i.db, i.subs[0], i.subs[1], i.subs[2], i.multi, i.qbuf, i.qbuf_free, i.omem, i.tot_mem, if i.omem > 0 { "rw" } else { "r" }, i.last_cmd, i.user, i.resp
        );
        // Redis 7.0 has no CLIENT SETINFO; the fields appear once a client library sets them
        // (as Redis 7.2 shows them), so 7.0-era parsers see the exact 7.0 line.
        if i.lib_name.is_some() || i.lib_ver.is_some() {
            line.push_str(&format!(" lib-name={lib_name} lib-ver={lib_ver}"));
        }
        line
    }
}
