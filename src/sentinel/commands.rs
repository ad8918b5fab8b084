//! The sentinel-mode server: its 15 top-level commands, executed by [`SentinelEngine`] through
//! the data node's connection loop. Pub/sub, AUTH and CLIENT reuse the data node's handlers.
//! Every command is looked up in the sentinel-mode table ([`cmdtable`]), then checked
//! against the connection's ACL user ([`acl`]) before it runs, as Redis's processCommand.

use super::{
    acl, cmdtable, config, failover, links, mstime, with_state, FailoverState, Kind, Loc, Sentinel,
    Shared,
};
use crate::commands::{eq_ic, table, Handler};
use crate::net::tracking::options as tracking;
use crate::net::Conn;
use crate::resp::Proto;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;

pub struct SentinelEngine {
    pub st: Shared,
    pub acl: std::cell::RefCell<super::acl::Acl>,
    /// Connections that subscribed, by client id (for ACL channel revocation).
    pub subscribers: std::cell::RefCell<
        std::collections::HashMap<u64, std::rc::Rc<crate::net::pubsub::Subscriber>>,
    >,
    /// CLIENT TRACKING state of the connections that used it, by client id.
    pub tracking: std::cell::RefCell<std::collections::HashMap<u64, tracking::Tracking>>,
}

impl crate::net::Engine for SentinelEngine {
    #[allow(clippy::manual_async_fn)] // the trait declares `-> impl Future`
    fn run<'a>(
        &'a self,
        conn: &'a mut Conn,
        queue: &'a mut VecDeque<Vec<Bytes>>,
    ) -> impl Future<Output = ()> + 'a {
        async move {
            while let Some(argv) = queue.pop_front() {
                if argv.is_empty() {
                    continue;
                }
                self.exec(conn, &argv).await;
                // CLIENT CACHING applies to the next command only (resetClient).
                if !eq_ic(&argv[0], "client") {
                    if let Some(t) = self.tracking.borrow_mut().get_mut(&conn.handle.id) {
                        t.caching = false;
                    }
                }
                if conn.close_after_reply {
                    queue.clear();
                }
            }
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An ACL rule as text. Passwords are binary-safe in Redis: a `>pass`/`<pass` that is not
/// UTF-8 becomes the equivalent `#hash`/`!hash` of its bytes.
fn rule_text(a: &[u8]) -> String {
    match a.first() {
        Some(&c @ (b'>' | b'<')) if std::str::from_utf8(&a[1..]).is_err() => format!(
            "{}{}",
            if c == b'>' { '#' } else { '!' },
            acl::sha256_hex(&a[1..])
        ),
        _ => text(a),
    }
}

fn unknown_command(conn: &mut Conn, argv: &[Bytes]) {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        args.push_str(&format!("'{}' ", text(a)));
    }
    conn.error(&format!(
        "ERR unknown command '{}', with args beginning with: {args}",
        text(&argv[0])
    ));
}

fn wrong_arity(conn: &mut Conn, name: &str) {
    conn.error(&format!(
        "ERR wrong number of arguments for '{name}' command"
    ));
}

/// Runs a data-node handler for `argv` (AUTH, CLIENT ..., (P)(UN)SUBSCRIBE).
async fn delegate(conn: &mut Conn, argv: &[Bytes]) {
    let Some(parent) = table::lookup(&argv[0]) else {
        return unknown_command(conn, argv);
    };
    let spec = if matches!(parent.handler, Handler::Container) {
        let Some(sub) = argv.get(1) else {
            return wrong_arity(conn, parent.name);
        };
        match table::lookup_sub(parent, sub) {
            Some(s) => s,
            None => {
                return conn.error(&format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    text(sub),
                    parent.name.to_ascii_uppercase()
                ))
            }
        }
    } else {
        parent
    };
    let n = argv.len() as i32;
    if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
        return wrong_arity(conn, spec.name);
    }
    match spec.handler {
        Handler::Conn(f) => f(conn, argv),
        Handler::Coord(f) => f(conn, argv).await,
        _ => unknown_command(conn, argv),
    }
}

impl SentinelEngine {
    async fn exec(&self, conn: &mut Conn, argv: &[Bytes]) {
        // As Redis's processCommand: command lookup (a container resolves to its
        // subcommand), arity, then authentication, then ACL.
        let t = cmdtable::table();
        let top = t.lookup(&argv[0]);
        let resolved = t.resolve(argv);
        // CLIENT LIST's cmd= names the subcommand too (`client|list`), as Redis 7 does.
        conn.handle.info.borrow_mut().last_cmd =
            resolved.or(top).map_or("NULL", |id| t.cmds[id].spec.name);
        let Some(top) = top else {
            return unknown_command(conn, argv);
        };
        let name = t.cmds[top].spec.name;
        let Some(id) = resolved else {
            return conn.error(&crate::commands::errors::unknown_subcommand(
                &argv[1],
                &name.to_ascii_uppercase(),
            ));
        };
        let spec = t.cmds[id].spec;
        let n = argv.len() as i32;
        if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
            return wrong_arity(conn, spec.name);
        }
        if !self.authed(conn) && name != "auth" && name != "hello" {
            return conn.error("NOAUTH Authentication required.");
        }
        let user = self.current_user(conn);
        let denied = self.acl.borrow().check_perm(user, id, argv);
        if let Err((why, pos)) = denied {
            let (reason, object) = match why {
                acl::Denied::Cmd => ("command", spec.name.to_string()),
                acl::Denied::Channel => ("channel", text(&argv[pos])),
            };
            self.log_denial(conn, reason, object, user.to_string());
            return conn.error(&match why {
                acl::Denied::Cmd => format!(
                    "NOPERM this user has no permissions to run the '{}' command",
                    spec.name
                ),
                acl::Denied::Channel => "NOPERM this user has no permissions to access one of the channels used as arguments".to_string(),
            });
        }
        if crate::commands::pubsub::in_resp2_context(conn)
            && !matches!(
                name,
                "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping"
            )
        {
            return conn.error(&format!("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", spec.name));
        }
        match name {
            "ping" => ping(conn, argv),
            "client"
                if ["tracking", "caching", "getredir", "trackinginfo"]
                    .iter()
                    .any(|n| eq_ic(&argv[1], n)) =>
            {
                self.client_tracking(conn, argv)
            }
            "client" | "unsubscribe" | "punsubscribe" => delegate(conn, argv).await,
            "subscribe" | "psubscribe" => {
                delegate(conn, argv).await;
                // Remembered so that ACL SETUSER can close it if its channels are revoked.
                if let Some(sub) = conn.pubsub.clone() {
                    let live = conn.shard.clients.borrow();
                    let mut subs = self.subscribers.borrow_mut();
                    subs.retain(|id, _| live.contains_key(id));
                    subs.insert(conn.handle.id, sub);
                }
            }
            "auth" => self.auth(conn, argv),
            "hello" => self.hello(conn, argv),
            "publish" => self.publish(conn, argv),
            "info" => self.info(conn, argv),
            "role" => self.role(conn),
            "sentinel" => self.sentinel(conn, argv),
            "command" => command(conn, argv),
            "acl" => self.acl(conn, argv),
            "shutdown" => {
                // Sentinel never saves; the flags are only checked, as in Redis.
                let (mut save, mut nosave, mut abort) = (false, false, false);
                for a in &argv[1..] {
                    if eq_ic(a, "save") {
                        save = true;
                    } else if eq_ic(a, "nosave") {
                        nosave = true;
                    } else if eq_ic(a, "abort") {
                        abort = true;
                    } else if !eq_ic(a, "now") && !eq_ic(a, "force") {
                        return conn.error("ERR syntax error");
                    }
                }
                if (save && nosave) || (abort && argv.len() > 2) {
                    return conn.error("ERR syntax error");
                }
                if abort {
                    return conn.error("ERR No shutdown in progress.");
                }
                conn.shard.shared.shutdown.request(libc::SIGTERM);
                conn.close_after_reply = true;
            }
            _ => unknown_command(conn, argv),
        }
    }

    /// Whether the connection may run commands: it authenticated, or the default user is on
    /// and has no password.
    fn authed(&self, conn: &Conn) -> bool {
        let acl = self.acl.borrow();
        let id = conn.handle.id;
        acl.conn_user.contains_key(&id)
            || acl.default_open()
            || (conn.authenticated && acl.default_off_from.is_some_and(|w| id < w))
    }

    /// Adds an ACL LOG entry for `conn`.
    fn log_denial(&self, conn: &Conn, reason: &'static str, object: String, username: String) {
        let client_info = conn.handle.list_line(std::time::Instant::now());
        self.acl.borrow_mut().log_denial(acl::LogEntry {
            count: 1,
            reason,
            object,
            username,
            ctime: mstime(),
            client_info,
        });
    }

    /// Closes the subscribed connections of `user` holding a subscription `allowed` no longer
    /// permits (`ACLKillPubsubClientsIfNeeded`).
    fn kill_unpermitted_subscribers(&self, conn: &mut Conn, user: &str, allowed: &[String]) {
        use crate::net::pubsub::Kind;
        let live = conn.shard.clients.borrow();
        let mut subs = self.subscribers.borrow_mut();
        subs.retain(|id, _| live.contains_key(id));
        let acl = self.acl.borrow();
        for (id, sub) in subs.iter() {
            if acl.conn_user.get(id).copied().unwrap_or("default") != user || !sub.active() {
                continue;
            }
            let revoked = sub
                .subscriptions(Kind::Pattern)
                .iter()
                .any(|p| !acl::channel_allowed(allowed, p, true))
                || [Kind::Channel, Kind::Shard].iter().any(|k| {
                    sub.subscriptions(*k)
                        .iter()
                        .any(|c| !acl::channel_allowed(allowed, c, false))
                });
            if !revoked {
                continue;
            }
            if *id == conn.handle.id {
                conn.close_after_reply = true;
            } else if let Some(h) = live.get(id) {
                h.kill();
            }
        }
    }

    /// CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (arity already checked).
    fn client_tracking(&self, conn: &mut Conn, argv: &[Bytes]) {
        let id = conn.handle.id;
        let mut all = self.tracking.borrow_mut();
        {
            let live = conn.shard.clients.borrow();
            all.retain(|c, _| live.contains_key(c));
        }
        let t = all.entry(id).or_default();
        let reply = if eq_ic(&argv[1], "tracking") {
            let clients = conn.shard.clients.borrow();
            t.tracking(argv, |c| {
                u64::try_from(c).is_ok_and(|c| clients.contains_key(&c))
            })
        } else if eq_ic(&argv[1], "caching") {
            t.caching(&argv[2])
        } else if eq_ic(&argv[1], "getredir") {
            tracking::Reply::Int(t.getredir())
        } else {
            tracking::Reply::Info
        };
        match reply {
            tracking::Reply::Ok => conn.out.ok(),
            tracking::Reply::Error(e) => conn.error(&e),
            tracking::Reply::ErrorThenOk(e) => {
                conn.error(&e);
                conn.out.ok();
            }
            tracking::Reply::Int(n) => conn.out.int(n),
            tracking::Reply::Info => t.write_info(&mut conn.out),
        }
    }

    /// Closes the connections authenticated as one of `users` (the caller's after its reply),
    /// as Redis does when it frees a user.
    fn close_connections_of(&self, conn: &mut Conn, users: &[&'static str]) {
        let mut acl = self.acl.borrow_mut();
        let victims: Vec<u64> = acl
            .conn_user
            .iter()
            .filter(|(_, u)| users.contains(u))
            .map(|(id, _)| *id)
            .collect();
        acl.conn_user.retain(|_, u| !users.contains(u));
        drop(acl);
        for id in victims {
            if id == conn.handle.id {
                conn.close_after_reply = true;
            } else if let Some(h) = conn.shard.clients.borrow().get(&id) {
                h.kill();
            }
        }
    }

    /// Keeps the `user` lines the next config rewrite writes in step with the users.
    fn sync_user_lines(&self) {
        let acl = self.acl.borrow();
        // With an ACL file the users live there, not in the config file.
        let lines = if acl.aclfile.is_some() {
            Vec::new()
        } else {
            acl.config_lines()
        };
        drop(acl);
        self.st.borrow_mut().user_lines = lines;
    }

    /// The user `conn` runs as (the default user until it authenticates as another).
    fn current_user(&self, conn: &Conn) -> &'static str {
        self.acl
            .borrow()
            .conn_user
            .get(&conn.handle.id)
            .copied()
            .unwrap_or("default")
    }

    /// Records that `conn` runs as `user` (CLIENT LIST `user=`, ACL WHOAMI).
    fn login(&self, conn: &mut Conn, user: &'static str) {
        let mut acl = self.acl.borrow_mut();
        let live = conn.shard.clients.borrow();
        acl.conn_user.retain(|id, _| live.contains_key(id));
        acl.conn_user.insert(conn.handle.id, user);
        drop(live);
        conn.authenticated = true;
        conn.handle.info.borrow_mut().user = user;
    }

    fn auth(&self, conn: &mut Conn, argv: &[Bytes]) {
        let (user, pass) = match argv.len() {
            2 => (&b"default"[..], &argv[1]),
            3 => (&argv[1][..], &argv[2]),
            _ => return conn.error("ERR syntax error"),
        };
        let checked = self.acl.borrow().check(user, pass);
        if argv.len() == 2 && checked.is_some() && self.acl.borrow().default_open() {
            return conn.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }
        match checked {
            Some(u) => {
                self.login(conn, u);
                conn.out.ok();
            }
            None => {
                self.log_denial(conn, "auth", text(&argv[0]), text(user));
                conn.error(super::acl::WRONGPASS)
            }
        }
    }

    fn acl(&self, conn: &mut Conn, argv: &[Bytes]) {
        let sub = text(&argv[1]).to_ascii_lowercase();
        match sub.as_str() {
            "whoami" if argv.len() == 2 => {
                let who = self.current_user(conn);
                conn.out.bulk(who.as_bytes());
            }
            "users" if argv.len() == 2 => {
                let names: Vec<&str> =
                    self.acl.borrow().sorted_users().iter().map(|u| u.name).collect();
                conn.out.array(names.len());
                for n in names {
                    conn.out.bulk(n.as_bytes());
                }
            }
            "setuser" if argv.len() >= 3 => {
                let rules: Vec<String> = argv[3..].iter().map(|a| rule_text(a)).collect();
                let was_open = self.acl.borrow().default_open();
                let name = text(&argv[2]);
                let r = self.acl.borrow_mut().setuser(&name, &rules);
                match r {
                    Ok(revoked) => {
                        if let Some(allowed) = revoked {
                            self.kill_unpermitted_subscribers(conn, &name, &allowed);
                        }
                        let mut acl = self.acl.borrow_mut();
                        let open = acl.default_open();
                        if was_open && !open {
                            let next = conn
                                .shard
                                .shared
                                .next_client_id
                                .load(std::sync::atomic::Ordering::Relaxed);
                            acl.default_off_from = Some(next);
                        } else if open {
                            acl.default_off_from = None;
                        }
                        drop(acl);
                        self.sync_user_lines();
                        conn.out.ok();
                    }
                    Err(e) => conn.error(&e),
                }
            }
            "deluser" if argv.len() >= 3 => {
                if argv[2..].iter().any(|a| &a[..] == b"default") {
                    return conn.error("ERR The 'default' user cannot be removed");
                }
                let mut acl = self.acl.borrow_mut();
                let mut deleted = Vec::new();
                for a in &argv[2..] {
                    if let Some(i) = acl.users.iter().position(|u| u.name.as_bytes() == &a[..]) {
                        deleted.push(acl.users.remove(i).name);
                    }
                }
                drop(acl);
                self.close_connections_of(conn, &deleted);
                self.sync_user_lines();
                conn.out.int(deleted.len() as i64);
            }
            "getuser" if argv.len() == 3 => self.acl_getuser(conn, &argv[2]),
            "list" if argv.len() == 2 => {
                let acl = self.acl.borrow();
                let t = cmdtable::table();
                let lines: Vec<String> = acl
                    .sorted_users()
                    .iter()
                    .map(|u| format!("user {} {}", u.name, u.describe(t)))
                    .collect();
                drop(acl);
                conn.out.array(lines.len());
                for l in lines {
                    conn.out.bulk(l.as_bytes());
                }
            }
            "load" | "save" if self.acl.borrow().aclfile.is_some() => {
                if sub == "save" {
                    let r = self.acl.borrow().save_file();
                    match r {
                        Ok(()) => conn.out.ok(),
                        Err(e) => {
                            tracing::warn!("Saving ACL file for ACL SAVE: {e}");
                            conn.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
                        }
                    }
                    return;
                }
                let r = self.acl.borrow_mut().load_file();
                match r {
                    Ok(replaced) => {
                        self.close_connections_of(conn, &replaced);
                        self.sync_user_lines();
                        conn.out.ok();
                    }
                    Err(e) => conn.error(&format!("ERR {e}")),
                }
            }
            "load" | "save" => conn.error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."),
            "cat" if argv.len() <= 3 => acl_cat(conn, argv.get(2)),
            "genpass" if argv.len() <= 3 => acl_genpass(conn, argv.get(2)),
            "log" if argv.len() <= 3 => self.acl_log(conn, argv.get(2)),
            "dryrun" if argv.len() >= 4 => self.acl_dryrun(conn, argv),
            "help" if argv.len() == 2 => {
                crate::commands::client::reply_help(&mut conn.out, ACL_HELP)
            }
            _ => conn.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
                text(&argv[1])
            )),
        }
    }

    /// ACL LOG [count | RESET].
    fn acl_log(&self, conn: &mut Conn, arg: Option<&Bytes>) {
        let count = match arg {
            None => 10,
            Some(a) if eq_ic(a, "reset") => {
                self.acl.borrow_mut().log.clear();
                return conn.out.ok();
            }
            Some(a) => match crate::commands::parse_i64(a) {
                Some(n) => n.max(0) as usize,
                None => return conn.error(crate::commands::errors::NOT_INTEGER),
            },
        };
        let now = mstime();
        let acl = self.acl.borrow();
        let n = count.min(acl.log.len());
        let out = &mut conn.out;
        out.array(n);
        for e in acl.log.iter().take(n) {
            out.map(7);
            out.bulk(b"count");
            out.int(e.count as i64);
            out.bulk(b"reason");
            out.bulk(e.reason.as_bytes());
            out.bulk(b"context");
            out.bulk(b"toplevel");
            out.bulk(b"object");
            out.bulk(e.object.as_bytes());
            out.bulk(b"username");
            out.bulk(e.username.as_bytes());
            out.bulk(b"age-seconds");
            out.double((now - e.ctime) as f64 / 1000.0);
            out.bulk(b"client-info");
            out.bulk(e.client_info.as_bytes());
        }
    }

    fn acl_getuser(&self, conn: &mut Conn, name: &[u8]) {
        let acl = self.acl.borrow();
        let Some(u) = acl.user(name) else {
            drop(acl);
            return conn.out.null();
        };
        let t = cmdtable::table();
        let out = &mut conn.out;
        out.map(6);
        out.bulk(b"flags");
        let flags = u.flags();
        out.set(flags.len());
        for f in flags {
            out.bulk(f.as_bytes());
        }
        out.bulk(b"passwords");
        out.array(u.passwords.len());
        for p in &u.passwords {
            out.bulk(p.as_bytes());
        }
        for (k, v) in u.selector_fields(t, 0) {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
        out.bulk(b"selectors");
        out.array(u.selectors.len() - 1);
        for i in 1..u.selectors.len() {
            out.map(3);
            for (k, v) in u.selector_fields(t, i) {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
    }

    fn acl_dryrun(&self, conn: &mut Conn, argv: &[Bytes]) {
        let t = cmdtable::table();
        let acl = self.acl.borrow();
        let Some(u) = acl.user(&argv[2]) else {
            drop(acl);
            return conn.error(&format!("ERR User '{}' not found", text(&argv[2])));
        };
        let cmd = &argv[3..];
        let Some(id) = t.resolve(cmd) else {
            drop(acl);
            return conn.error(&format!("ERR Command '{}' not found", text(&argv[3])));
        };
        let spec = t.cmds[id].spec;
        let n = cmd.len() as i32;
        if (spec.arity > 0 && n != spec.arity) || n < -spec.arity {
            drop(acl);
            return wrong_arity(conn, spec.name);
        }
        let r = u.check(t, id, cmd);
        drop(acl);
        match r {
            Ok(()) => conn.out.ok(),
            Err((acl::Denied::Cmd, _)) => conn.out.bulk(
                format!(
                    "This user has no permissions to run the '{}' command",
                    spec.name
                )
                .as_bytes(),
            ),
            Err((acl::Denied::Channel, i)) => conn.out.bulk(
                format!(
                    "This user has no permissions to access the '{}' channel",
                    text(&cmd[i])
                )
                .as_bytes(),
            ),
        }
    }

    fn hello(&self, conn: &mut Conn, argv: &[Bytes]) {
        // HELLO ... AUTH user pass authenticates against the ACL users.
        let who = std::cell::Cell::new(None);
        let accepted = crate::commands::connection::hello_options(
            conn,
            argv,
            |c, user, pass| {
                let u = self.acl.borrow().check(user, pass);
                if u.is_none() {
                    self.log_denial(c, "auth", text(&argv[0]), text(user));
                }
                who.set(u);
                u.is_some()
            },
            |c| self.authed(c),
        );
        if !accepted {
            return;
        }
        if let Some(u) = who.get() {
            self.login(conn, u);
        }
        let id = conn.handle.id as i64;
        let out = &mut conn.out;
        out.map(6);
        out.bulk(b"server");
        out.bulk(b"redis");
        out.bulk(b"version");
        out.bulk(crate::REDIS_VERSION.as_bytes());
        out.bulk(b"proto");
        out.int(if out.proto == Proto::Resp3 { 3 } else { 2 });
        out.bulk(b"id");
        out.int(id);
        out.bulk(b"mode");
        out.bulk(b"sentinel");
        out.bulk(b"modules");
        out.array(0);
    }

    fn publish(&self, conn: &mut Conn, argv: &[Bytes]) {
        if argv.len() != 3 {
            return wrong_arity(conn, "publish");
        }
        if &argv[1][..] != links::HELLO_CHANNEL.as_bytes() {
            return conn.error("ERR Only HELLO messages are accepted by Sentinel instances.");
        }
        let payload = text(&argv[2]);
        with_state(&self.st, |s| links::process_hello(s, &payload));
        conn.out.int(1);
    }

    fn role(&self, conn: &mut Conn) {
        let names: Vec<String> = self
            .st
            .borrow()
            .masters
            .iter()
            .map(|m| m.inst.name.clone())
            .collect();
        conn.out.array(2);
        conn.out.bulk(b"sentinel");
        conn.out.array(names.len());
        for n in names {
            conn.out.bulk(n.as_bytes());
        }
    }

    fn info(&self, conn: &mut Conn, argv: &[Bytes]) {
        let all = ["server", "clients", "cpu", "stats", "sentinel"];
        let mut wanted: Vec<&str> = Vec::new();
        if argv.len() == 1 {
            wanted = all.to_vec();
        }
        for a in &argv[1..] {
            let a = text(a).to_ascii_lowercase();
            match a.as_str() {
                "default" | "all" | "everything" => wanted = all.to_vec(),
                x => {
                    if let Some(n) = all.iter().find(|n| **n == x) {
                        if !wanted.contains(n) {
                            wanted.push(n);
                        }
                    }
                }
            }
        }
        let shared = conn.shard.shared.clone();
        let s = self.st.borrow();
        let mut out = String::new();
        for sec in all.iter().filter(|n| wanted.contains(n)) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            match *sec {
                "server" => {
                    let up = shared.started.elapsed().as_secs();
                    out.push_str(&format!(
                        "# Server\r\nredis_version:{}\r\nringkv_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:sentinel\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                        crate::REDIS_VERSION,
                        crate::RINGKV_VERSION,
                        std::env::consts::OS,
                        std::env::consts::ARCH,
                        std::process::id(),
                        shared.run_id,
                        s.config.port,
                        up,
                        up / 86400,
                        shared.executable,
                        s.config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
                    ));
                }
                "clients" => out.push_str(&format!(
                    "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nblocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                    shared.connected_clients.load(std::sync::atomic::Ordering::Relaxed),
                    s.config.maxclients
                )),
                "cpu" => {
                    let (sys, user) = cpu_times();
                    out.push_str(&format!(
                        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
                    ));
                }
                "stats" => out.push_str(&format!(
                    "# Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\n",
                    shared.total_connections.load(std::sync::atomic::Ordering::Relaxed),
                    shared.rejected_connections.load(std::sync::atomic::Ordering::Relaxed)
                )),
                _ => {
                    out.push_str(&format!(
                        "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
                        s.masters.len(),
                        s.tilt as u8,
                        if s.tilt { (mstime() - s.tilt_start) / 1000 } else { -1 },
                        s.scripts.iter().filter(|j| j.child.is_some()).count(),
                        s.scripts.len(),
                        s.simfailure_flags
                    ));
                    for (i, m) in s.masters.iter().enumerate() {
                        let status = if m.inst.o_down {
                            "odown"
                        } else if m.inst.s_down {
                            "sdown"
                        } else {
                            "ok"
                        };
                        let (ip, port) = m.current_addr();
                        out.push_str(&format!(
                            "master{i}:name={},status={status},address={ip}:{port},slaves={},sentinels={}\r\n",
                            m.inst.name,
                            m.replicas.len(),
                            m.sentinels.len() + 1
                        ));
                    }
                }
            }
        }
        drop(s);
        // Sentinel's INFO is a plain bulk string in RESP3 too.
        conn.out.bulk(out.as_bytes());
    }

    fn sentinel(&self, conn: &mut Conn, argv: &[Bytes]) {
        if argv.len() < 2 {
            return wrong_arity(conn, "sentinel");
        }
        let sub = text(&argv[1]).to_ascii_lowercase();
        let argc = argv.len();
        let st = &self.st;
        let arity_ok = match sub.as_str() {
            "masters" | "myid" | "flushconfig" | "pending-scripts" | "help" => argc == 2,
            "master"
            | "replicas"
            | "slaves"
            | "sentinels"
            | "get-master-addr-by-name"
            | "reset"
            | "failover"
            | "ckquorum"
            | "remove" => argc == 3,
            "monitor" => argc == 6,
            "is-master-down-by-addr" => argc == 6,
            "set" => argc >= 5,
            "config" => argc >= 3,
            _ => true,
        };
        if !arity_ok {
            return wrong_arity(conn, &format!("sentinel|{sub}"));
        }
        let master_idx = |conn: &mut Conn| -> Option<usize> {
            let r = st.borrow().master_by_name(&text(&argv[2]));
            if r.is_none() {
                conn.error("ERR No such master with that name");
            }
            r
        };
        let now = mstime();
        match sub.as_str() {
            "masters" => {
                let s = st.borrow();
                conn.out.array(s.masters.len());
                for mi in 0..s.masters.len() {
                    reply_instance(conn, &s, Loc::Master(mi), now);
                }
            }
            "master" => {
                let Some(mi) = master_idx(conn) else { return };
                reply_instance(conn, &st.borrow(), Loc::Master(mi), now);
            }
            "replicas" | "slaves" => {
                let Some(mi) = master_idx(conn) else { return };
                let s = st.borrow();
                let locs: Vec<Loc> = (0..s.masters[mi].replicas.len())
                    .filter(|&i| s.masters[mi].replicas[i].replica_announced)
                    .map(|i| Loc::Replica(mi, i))
                    .collect();
                conn.out.array(locs.len());
                for l in locs {
                    reply_instance(conn, &s, l, now);
                }
            }
            "sentinels" => {
                let Some(mi) = master_idx(conn) else { return };
                let s = st.borrow();
                let n = s.masters[mi].sentinels.len();
                conn.out.array(n);
                for i in 0..n {
                    reply_instance(conn, &s, Loc::Sentinel(mi, i), now);
                }
            }
            "get-master-addr-by-name" => {
                let s = st.borrow();
                match s.master_by_name(&text(&argv[2])) {
                    None => conn.out.null_array(),
                    Some(mi) => {
                        let (ip, port) = s.masters[mi].current_addr();
                        conn.out.array(2);
                        conn.out.bulk(ip.as_bytes());
                        conn.out.bulk(port.to_string().as_bytes());
                    }
                }
            }
            "myid" => {
                let id = st.borrow().myid.clone();
                conn.out.bulk(id.as_bytes());
            }
            "is-master-down-by-addr" => {
                let (Some(port), Some(epoch)) = (
                    crate::commands::parse_i64(&argv[3]),
                    crate::commands::parse_i64(&argv[4]),
                ) else {
                    return conn.error("ERR value is not an integer or out of range");
                };
                let ip = text(&argv[2]);
                let runid = text(&argv[5]);
                let (down, leader, lepoch) = with_state(st, |s| {
                    let mi = s
                        .masters
                        .iter()
                        .position(|m| u16::try_from(port).is_ok_and(|p| m.inst.is_at(&ip, p)));
                    let Some(mi) = mi else {
                        return (false, None, 0);
                    };
                    let down = !s.tilt && s.masters[mi].inst.s_down;
                    if runid != "*" {
                        let (l, e) = s.vote_leader(mi, epoch.max(0) as u64, &runid);
                        (down, l, e)
                    } else {
                        (down, None, 0)
                    }
                });
                conn.out.array(3);
                conn.out.int(down as i64);
                conn.out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
                conn.out.int(lepoch as i64);
            }
            "reset" => {
                let pat = argv[2].clone();
                let n = with_state(st, |s| {
                    let mut n = 0;
                    for mi in 0..s.masters.len() {
                        if crate::glob::stringmatch(&pat, s.masters[mi].inst.name.as_bytes(), false)
                        {
                            let (ip, port) = s.masters[mi].inst.addr();
                            s.reset_master(mi, &ip, port, false);
                            s.event_at(
                                crate::server::log::Level::Warning,
                                "+reset-master",
                                Loc::Master(mi),
                            );
                            n += 1;
                        }
                    }
                    if n > 0 {
                        s.flush_config();
                    }
                    n
                });
                conn.out.int(n);
            }
            "failover" => {
                let Some(mi) = master_idx(conn) else { return };
                let r = with_state(st, |s| {
                    if s.masters[mi].failover_in_progress {
                        return Err("INPROG Failover already in progress");
                    }
                    if failover::select_slave(s, mi, now).is_none() {
                        return Err("NOGOODSLAVE No suitable replica to promote");
                    }
                    tracing::warn!(
                        "Executing user requested FAILOVER of '{}'",
                        s.masters[mi].inst.name
                    );
                    failover::start_failover(s, mi, now);
                    s.masters[mi].force_failover = true;
                    Ok(())
                });
                match r {
                    Ok(()) => conn.out.ok(),
                    Err(e) => conn.error(e),
                }
            }
            "ckquorum" => {
                let Some(mi) = master_idx(conn) else { return };
                let s = st.borrow();
                let m = &s.masters[mi];
                let voters = m.sentinels.len() + 1;
                let usable = 1 + m
                    .sentinels
                    .iter()
                    .filter(|x| !x.s_down && !x.o_down)
                    .count();
                let mut e = String::new();
                if usable < m.quorum as usize {
                    e.push_str(". Not enough available Sentinels to reach the specified quorum for this master");
                }
                if usable < voters / 2 + 1 {
                    e.push_str(". Not enough available Sentinels to reach the majority and authorize a failover");
                }
                drop(s);
                if e.is_empty() {
                    conn.out.simple(&format!("OK {usable} usable Sentinels. Quorum and failover authorization can be reached"));
                } else {
                    conn.error(&format!("NOQUORUM {usable} usable Sentinels{e}"));
                }
            }
            "flushconfig" => {
                if with_state(st, |s| s.flush_config()) {
                    conn.out.ok();
                } else {
                    conn.error("ERR Failed to save config file. Check server logs.");
                }
            }
            "monitor" => {
                let Some(port) = crate::commands::parse_i64(&argv[4]) else {
                    return conn.error("ERR Invalid port");
                };
                let Some(quorum) = crate::commands::parse_i64(&argv[5]) else {
                    return conn.error("ERR Invalid quorum");
                };
                if quorum <= 0 {
                    return conn.error("ERR Quorum must be 1 or greater.");
                }
                if !(0..=65535).contains(&port) {
                    return conn.error("ERR Invalid port number.");
                }
                let (name, ip) = (text(&argv[2]), text(&argv[3]));
                let r = with_state(st, |s| {
                    if !config::valid_host(&ip, s.resolve_hostnames) {
                        return Err("ERR Invalid IP address or hostname specified");
                    }
                    if s.master_by_name(&name).is_some() {
                        return Err("ERR Duplicate master name.");
                    }
                    let mi = s.add_master(&name, &ip, port as u16, quorum as u32);
                    s.flush_config();
                    let d = s.describe(Loc::Master(mi));
                    s.event(
                        crate::server::log::Level::Warning,
                        "+monitor",
                        format!("{d} quorum {quorum}"),
                    );
                    Ok(())
                });
                match r {
                    Ok(()) => conn.out.ok(),
                    Err(e) => conn.error(e),
                }
            }
            "remove" => {
                let Some(mi) = master_idx(conn) else { return };
                with_state(st, |s| {
                    s.event_at(
                        crate::server::log::Level::Warning,
                        "-monitor",
                        Loc::Master(mi),
                    );
                    s.masters.remove(mi);
                    s.flush_config();
                });
                conn.out.ok();
            }
            "set" => self.sentinel_set(conn, argv),
            "config" => self.sentinel_config(conn, argv),
            "debug" => self.sentinel_debug(conn, argv),
            "info-cache" => {
                let s = st.borrow();
                let names: Vec<String> = argv[2..].iter().map(|a| text(a)).collect();
                let ms: Vec<usize> = (0..s.masters.len())
                    .filter(|&i| {
                        names.is_empty() || names.iter().any(|n| *n == s.masters[i].inst.name)
                    })
                    .collect();
                conn.out.array(ms.len() * 2);
                for mi in ms {
                    let m = &s.masters[mi];
                    conn.out.bulk(m.inst.name.as_bytes());
                    conn.out.array(1 + m.replicas.len());
                    for i in std::iter::once(&m.inst).chain(m.replicas.iter()) {
                        conn.out.array(2);
                        conn.out.int(if i.info_refresh == 0 {
                            0
                        } else {
                            now - i.info_refresh
                        });
                        match &i.info {
                            Some(t) => conn.out.bulk(t.as_bytes()),
                            None => conn.out.null(),
                        }
                    }
                }
            }
            "simulate-failure" => {
                let mut flags = 0;
                for a in &argv[2..] {
                    if eq_ic(a, "crash-after-election") {
                        flags |= super::SIMFAILURE_CRASH_AFTER_ELECTION;
                        tracing::warn!("Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
                    } else if eq_ic(a, "crash-after-promotion") {
                        flags |= super::SIMFAILURE_CRASH_AFTER_PROMOTION;
                        tracing::warn!("Failure simulation: this Sentinel will crash after promoting the selected replica to master");
                    } else if eq_ic(a, "help") {
                        conn.out.array(2);
                        conn.out.bulk(b"crash-after-election");
                        conn.out.bulk(b"crash-after-promotion");
                        return;
                    } else {
                        return conn.error("ERR Unknown failure simulation specified");
                    }
                }
                st.borrow_mut().simfailure_flags = flags;
                conn.out.ok();
            }
            "pending-scripts" => {
                let s = st.borrow();
                conn.out.array(s.scripts.len());
                for j in &s.scripts {
                    conn.out.map(5);
                    conn.out.bulk(b"argv");
                    conn.out.array(j.argv.len());
                    for a in &j.argv {
                        conn.out.bulk(a.as_bytes());
                    }
                    conn.out.bulk(b"flags");
                    let running = j.child.is_some();
                    conn.out.bulk(if running {
                        &b"running"[..]
                    } else {
                        b"scheduled"
                    });
                    conn.out.bulk(b"pid");
                    conn.out.bulk(j.pid().to_string().as_bytes());
                    if running {
                        conn.out.bulk(b"run-time");
                        conn.out.bulk((now - j.start_time).to_string().as_bytes());
                    } else {
                        conn.out.bulk(b"run-delay");
                        let d = if j.start_time != 0 {
                            (j.start_time - now).max(0)
                        } else {
                            0
                        };
                        conn.out.bulk(d.to_string().as_bytes());
                    }
                    conn.out.bulk(b"retry-num");
                    conn.out.bulk(j.retry_num.to_string().as_bytes());
                }
            }
            "help" => {
                let lines = [
                    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CKQUORUM <master-name>",
                    "    Check if the current Sentinel configuration is able to reach the quorum",
                    "    needed to failover a master and the majority needed to authorize the",
                    "    failover.",
                    "CONFIG SET <param> <value>",
                    "    Set a global Sentinel configuration parameter.",
                    "CONFIG GET <param>",
                    "    Get global Sentinel configuration parameter.",
                    "DEBUG [<param> <value> ...]",
                    "    Show a list of configurable time parameters and their values (milliseconds).",
                    "    Or update current configurable parameters values (one or more).",
                    "GET-MASTER-ADDR-BY-NAME <master-name>",
                    "    Return the ip and port number of the master with that name.",
                    "FAILOVER <master-name>",
                    "    Manually failover a master node without asking for agreement from other",
                    "    Sentinels",
                    "FLUSHCONFIG",
                    "    Force Sentinel to rewrite its configuration on disk, including the current",
                    "    Sentinel state.",
                    "INFO-CACHE <master-name>",
                    "    Return last cached INFO output from masters and all its replicas.",
                    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
                    "    Check if the master specified by ip:port is down from current Sentinel's",
                    "    point of view.",
                    "MASTER <master-name>",
                    "    Show the state and info of the specified master.",
                    "MASTERS",
                    "    Show a list of monitored masters and their state.",
                    "MONITOR <name> <ip> <port> <quorum>",
                    "    Start monitoring a new master with the specified name, ip, port and quorum.",
                    "MYID",
                    "    Return the ID of the Sentinel instance.",
                    "PENDING-SCRIPTS",
                    "    Get pending scripts information.",
                    "REMOVE <master-name>",
                    "    Remove master from Sentinel's monitor list.",
                    "REPLICAS <master-name>",
                    "    Show a list of replicas for this master and their state.",
                    "RESET <pattern>",
                    "    Reset masters for specific master name matching this pattern.",
                    "SENTINELS <master-name>",
                    "    Show a list of Sentinel instances for this master and their state.",
                    "SET <master-name> <option> <value> [<option> <value> ...]",
                    "    Set configuration parameters for certain masters.",
                    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
                    "    Simulate a Sentinel crash.",
                    "HELP",
                    "    Prints this help.",
                ];
                conn.out.array(lines.len());
                for l in lines {
                    conn.out.simple(l);
                }
            }
            _ => conn.error(&format!(
                "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
                text(&argv[1])
            )),
        }
    }

    /// SENTINEL SET: options are applied one by one, as Redis does (an error stops at that
    /// option; the earlier ones stay applied and are saved).
    fn sentinel_set(&self, conn: &mut Conn, argv: &[Bytes]) {
        let Some(mi) = self.st.borrow().master_by_name(&text(&argv[2])) else {
            return conn.error("ERR No such master with that name");
        };
        let r = with_state(&self.st, |s| {
            let mut changes = 0;
            let mut j = 3;
            let result = loop {
                if j >= argv.len() {
                    break Ok(());
                }
                let more = argv.len() - 1 - j;
                let opt_raw = text(&argv[j]);
                let opt = opt_raw.to_ascii_lowercase();
                let old_j = j;
                let bad = |v: &Bytes| {
                    format!(
                        "ERR Invalid argument '{}' for SENTINEL SET '{opt_raw}'",
                        text(v)
                    )
                };
                let num = |v: &Bytes| crate::commands::parse_i64(v);
                let mut redacted = false;
                let m = &mut s.masters[mi];
                match opt.as_str() {
                    "down-after-milliseconds"
                    | "failover-timeout"
                    | "parallel-syncs"
                    | "quorum"
                        if more > 0 =>
                    {
                        j += 1;
                        let Some(n) = num(&argv[j]).filter(|n| *n > 0) else {
                            break Err(bad(&argv[j]));
                        };
                        match opt.as_str() {
                            "down-after-milliseconds" => {
                                m.inst.down_after = n;
                                config::propagate_down_after(s, mi);
                            }
                            "failover-timeout" => m.failover_timeout = n,
                            "parallel-syncs" => m.parallel_syncs = n,
                            _ => m.quorum = u32::try_from(n).unwrap_or(u32::MAX),
                        }
                    }
                    "master-reboot-down-after-period" if more > 0 => {
                        j += 1;
                        let Some(n) = num(&argv[j]).filter(|n| *n >= 0) else {
                            break Err(bad(&argv[j]));
                        };
                        m.reboot_down_after = n;
                    }
                    "notification-script" | "client-reconfig-script" if more > 0 => {
                        j += 1;
                        let v = text(&argv[j]);
                        if s.deny_scripts_reconfig {
                            break Err("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration".to_string());
                        }
                        let notify = opt == "notification-script";
                        if !v.is_empty() && !config::is_executable(&v) {
                            break Err(if notify {
                                "ERR Notification script seems non existing or non executable"
                            } else {
                                "ERR Client reconfiguration script seems non existing or non executable"
                            }
                            .to_string());
                        }
                        let v = (!v.is_empty()).then_some(v);
                        let m = &mut s.masters[mi];
                        if notify {
                            m.notification_script = v;
                        } else {
                            m.client_reconfig_script = v;
                        }
                    }
                    "auth-pass" | "auth-user" if more > 0 => {
                        j += 1;
                        let v = text(&argv[j]);
                        let v = (!v.is_empty()).then_some(v);
                        if opt == "auth-pass" {
                            m.auth_pass = v;
                            redacted = true;
                        } else {
                            m.auth_user = v;
                        }
                        m.link_gen += 1;
                    }
                    "rename-command" if more > 1 => {
                        let (old, new) = (text(&argv[j + 1]), text(&argv[j + 2]));
                        j += 2;
                        if old.is_empty() || new.is_empty() {
                            let at = if new.is_empty() { j } else { j - 1 };
                            break Err(bad(&argv[at]));
                        }
                        m.renamed.retain(|(o, _)| !o.eq_ignore_ascii_case(&old));
                        if !old.eq_ignore_ascii_case(&new) {
                            m.renamed.push((old, new));
                        }
                        m.link_gen += 1;
                    }
                    _ => {
                        break Err(format!(
                            "ERR Unknown option or number of arguments for SENTINEL SET '{opt_raw}'"
                        ))
                    }
                }
                changes += 1;
                let d = s.describe(Loc::Master(mi));
                let args: Vec<String> = argv[old_j + 1..=j]
                    .iter()
                    .map(|a| {
                        if redacted {
                            "******".to_string()
                        } else {
                            text(a)
                        }
                    })
                    .collect();
                s.event_m(
                    crate::server::log::Level::Warning,
                    "+set",
                    mi,
                    format!("{d} {opt_raw} {}", args.join(" ")),
                );
                j += 1;
            };
            let saved = changes == 0 || s.flush_config();
            (result, saved)
        });
        match r {
            (Err(e), _) => conn.error(&e),
            (Ok(()), true) => conn.out.ok(),
            (Ok(()), false) => conn.error("ERR Failed to save config file. Check server logs."),
        }
    }

    fn sentinel_config(&self, conn: &mut Conn, argv: &[Bytes]) {
        let params = [
            "resolve-hostnames",
            "announce-hostnames",
            "announce-ip",
            "announce-port",
            "sentinel-user",
            "sentinel-pass",
        ];
        let value = |s: &Sentinel, p: &str| -> String {
            let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
            match p {
                "resolve-hostnames" => yn(s.resolve_hostnames),
                "announce-hostnames" => yn(s.announce_hostnames),
                "announce-ip" => s.announce_ip.clone().unwrap_or_default(),
                "announce-port" => s.announce_port.to_string(),
                "sentinel-user" => s.sentinel_user.clone().unwrap_or_default(),
                _ => s.sentinel_pass.clone().unwrap_or_default(),
            }
        };
        if eq_ic(&argv[2], "get") && argv.len() == 4 {
            let s = self.st.borrow();
            let pairs: Vec<(&str, String)> = params
                .iter()
                .filter(|p| crate::glob::stringmatch(&argv[3], p.as_bytes(), true))
                .map(|p| (*p, value(&s, p)))
                .collect();
            drop(s);
            conn.out.map(pairs.len());
            for (k, v) in pairs {
                conn.out.bulk(k.as_bytes());
                conn.out.bulk(v.as_bytes());
            }
        } else if eq_ic(&argv[2], "set") && argv.len() == 5 {
            let p = text(&argv[3]).to_ascii_lowercase();
            let v = text(&argv[4]);
            let r = with_state(&self.st, |s| {
                let yn = |v: &str| match v.to_ascii_lowercase().as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => None,
                };
                match p.as_str() {
                    "resolve-hostnames" => s.resolve_hostnames = yn(&v).ok_or(1)?,
                    "announce-hostnames" => {
                        s.announce_hostnames = yn(&v).ok_or(1)?;
                        let show = s.announce_hostnames;
                        for m in &mut s.masters {
                            m.inst.show_hostname = show;
                            for i in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
                                i.show_hostname = show;
                            }
                        }
                    }
                    "announce-ip" => s.announce_ip = (!v.is_empty()).then(|| v.clone()),
                    "announce-port" => {
                        s.announce_port = v.parse::<u16>().map_err(|_| 1)?;
                    }
                    "sentinel-user" => {
                        s.sentinel_user = (!v.is_empty()).then(|| v.clone());
                        s.peer_link_gen += 1;
                    }
                    "sentinel-pass" => {
                        s.sentinel_pass = (!v.is_empty()).then(|| v.clone());
                        s.peer_link_gen += 1;
                    }
                    _ => return Err(0),
                }
                s.flush_config();
                Ok(())
            });
            match r {
                Ok(()) => conn.out.ok(),
                Err(0) => conn.error(&format!(
                    "ERR Invalid argument '{}' to SENTINEL CONFIG SET",
                    text(&argv[3])
                )),
                Err(_) => conn.error(&format!(
                    "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{p}'"
                )),
            }
        } else {
            conn.error(
                "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
            );
        }
    }

    fn sentinel_debug(&self, conn: &mut Conn, argv: &[Bytes]) {
        if argv.len() == 2 {
            let mut t = self.st.borrow().timings.clone();
            let f = t.fields();
            conn.out.map(f.len());
            for (k, v) in f {
                conn.out.bulk(k.as_bytes());
                conn.out.bulk(v.to_string().as_bytes());
            }
            return;
        }
        let mut t = self.st.borrow().timings.clone();
        let mut i = 2;
        while i < argv.len() {
            let name = text(&argv[i]).to_ascii_uppercase();
            let Some(v) = argv.get(i + 1) else {
                return conn.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                    text(&argv[i])
                ));
            };
            let mut fields = t.fields();
            let Some((_, slot)) = fields.iter_mut().find(|(k, _)| *k == name) else {
                return conn.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                    text(&argv[i])
                ));
            };
            match crate::commands::parse_i64(v) {
                // Bounded so that the multiples the timer takes (5 x ping period, ...)
                // cannot overflow.
                Some(n) if n > 0 => **slot = n.min(i64::MAX / 64),
                _ => {
                    return conn.error(&format!(
                        "ERR Invalid argument '{}' for SENTINEL DEBUG '{}'",
                        text(v),
                        text(&argv[i])
                    ))
                }
            }
            i += 2;
        }
        self.st.borrow_mut().timings = t;
        conn.out.ok();
    }
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn ping(conn: &mut Conn, argv: &[Bytes]) {
    if argv.len() > 2 {
        return wrong_arity(conn, "ping");
    }
    if crate::commands::pubsub::in_resp2_context(conn) {
        conn.out.array(2);
        conn.out.bulk(b"pong");
        conn.out.bulk(argv.get(1).map_or(&b""[..], |b| &b[..]));
        return;
    }
    match argv.get(1) {
        Some(m) => conn.out.bulk(m),
        None => conn.out.simple("PONG"),
    }
}

fn command(conn: &mut Conn, argv: &[Bytes]) {
    let t = cmdtable::table();
    match argv.get(1) {
        Some(s) if eq_ic(s, "count") => conn.out.int(t.top.len() as i64),
        Some(s) if eq_ic(s, "list") => command_list(conn, argv),
        Some(s) if eq_ic(s, "info") => {
            if argv.len() == 2 {
                return command_info_all(conn);
            }
            conn.out.array(argv.len() - 2);
            for name in &argv[2..] {
                match t.lookup_full(name) {
                    Some(id) => command_info_one(conn, id),
                    None => conn.out.null(),
                }
            }
        }
        Some(s) if eq_ic(s, "docs") => command_docs(conn, argv),
        Some(s) if eq_ic(s, "getkeys") || eq_ic(s, "getkeysandflags") => {
            // No sentinel-mode command has key arguments.
            match t.resolve(&argv[2..]) {
                None => conn.error("ERR Invalid command specified"),
                Some(_) => conn.error("ERR The command has no key arguments"),
            }
        }
        Some(s) if eq_ic(s, "help") => crate::commands::client::reply_help(
            &mut conn.out,
            crate::commands::introspect::COMMAND_HELP,
        ),
        None => command_info_all(conn),
        Some(s) => conn.error(&format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            text(s)
        )),
    }
}

/// COMMAND DOCS [name ...]: the docs of sentinel mode's command table (the data node's docs,
/// plus SENTINEL and the other commands that exist only here).
fn command_docs(conn: &mut Conn, argv: &[Bytes]) {
    let names: Vec<&'static str> = cmdtable::table().cmds.iter().map(|c| c.spec.name).collect();
    crate::commands::introspect::command_docs_for_table(&mut conn.out, &names, &argv[2..]);
}

/// `addReplySentinelRedisInstance`: the instance map, fields in Redis's order.
fn reply_instance(conn: &mut Conn, s: &Sentinel, loc: Loc, now: super::Ms) {
    let i = s.inst(loc);
    let m = &s.masters[Sentinel::master_of(loc)];
    let mut f: Vec<(&str, String)> = vec![
        ("name", i.name.clone()),
        ("ip", i.shown_ip().to_string()),
        ("port", i.port.to_string()),
        ("runid", i.runid.clone().unwrap_or_default()),
    ];
    let mut flags = Vec::new();
    let is_master = matches!(loc, Loc::Master(_));
    if i.s_down {
        flags.push("s_down");
    }
    if i.o_down {
        flags.push("o_down");
    }
    flags.push(i.kind_name());
    // A master or replica needs both links (commands and pub/sub), a sentinel only the first.
    if !i.link.connected || (i.kind != Kind::Sentinel && !i.link.pubsub_connected) {
        flags.push("disconnected");
    }
    if i.master_down {
        flags.push("master_down");
    }
    if is_master && m.failover_in_progress {
        flags.push("failover_in_progress");
    }
    if i.promoted {
        flags.push("promoted");
    }
    if i.reconf_sent {
        flags.push("reconf_sent");
    }
    if i.reconf_inprog {
        flags.push("reconf_inprog");
    }
    if i.reconf_done {
        flags.push("reconf_done");
    }
    if is_master && m.force_failover {
        flags.push("force_failover");
    }
    if i.script_kill_sent {
        flags.push("script_kill_sent");
    }
    f.push(("flags", flags.join(",")));
    f.push(("link-pending-commands", i.link.pending_commands.to_string()));
    let refcount = match loc {
        Loc::Sentinel(..) => links::peer_group(s, loc).len(),
        _ => 1,
    };
    f.push(("link-refcount", refcount.to_string()));
    if is_master && m.failover_state != FailoverState::None {
        f.push(("failover-state", m.failover_state.name().into()));
    }
    f.push((
        "last-ping-sent",
        if i.link.act_ping_time != 0 {
            now - i.link.act_ping_time
        } else {
            0
        }
        .to_string(),
    ));
    f.push((
        "last-ok-ping-reply",
        (now - i.link.last_avail_time).to_string(),
    ));
    f.push(("last-ping-reply", (now - i.link.last_pong_time).to_string()));
    if i.s_down {
        f.push(("s-down-time", (now - i.s_down_since).to_string()));
    }
    if i.o_down {
        f.push(("o-down-time", (now - i.o_down_since).to_string()));
    }
    f.push(("down-after-milliseconds", i.down_after.to_string()));
    if i.kind != Kind::Sentinel {
        f.push((
            "info-refresh",
            if i.info_refresh == 0 {
                0
            } else {
                now - i.info_refresh
            }
            .to_string(),
        ));
        f.push((
            "role-reported",
            if i.role_reported == Kind::Master {
                "master"
            } else {
                "slave"
            }
            .into(),
        ));
        f.push((
            "role-reported-time",
            (now - i.role_reported_time).to_string(),
        ));
    }
    match i.kind {
        Kind::Master => {
            f.push(("config-epoch", m.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.quorum.to_string()));
            f.push(("failover-timeout", m.failover_timeout.to_string()));
            f.push(("parallel-syncs", m.parallel_syncs.to_string()));
            if let Some(p) = &m.notification_script {
                f.push(("notification-script", p.clone()));
            }
            if let Some(p) = &m.client_reconfig_script {
                f.push(("client-reconfig-script", p.clone()));
            }
        }
        Kind::Replica => {
            f.push(("master-link-down-time", i.master_link_down_time.to_string()));
            f.push((
                "master-link-status",
                if i.slave_master_link_up { "ok" } else { "err" }.into(),
            ));
            f.push((
                "master-host",
                i.slave_master_host.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("master-port", i.slave_master_port.to_string()));
            f.push(("slave-priority", i.slave_priority.to_string()));
            f.push(("slave-repl-offset", i.slave_repl_offset.to_string()));
            f.push(("replica-announced", (i.replica_announced as u8).to_string()));
        }
        Kind::Sentinel => {
            f.push(("last-hello-message", (now - i.last_hello_time).to_string()));
            f.push((
                "voted-leader",
                i.leader.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("voted-leader-epoch", i.leader_epoch.to_string()));
        }
    }
    conn.out.map(f.len());
    for (k, v) in f {
        conn.out.bulk(k.as_bytes());
        conn.out.bulk(v.as_bytes());
    }
}

/// COMMAND INFO for one id of the sentinel-mode table.
fn command_info_one(conn: &mut Conn, id: usize) {
    let c = &cmdtable::table().cmds[id];
    crate::commands::introspect::write_info_with(&mut conn.out, c.spec, c.sub_specs);
}

fn command_info_all(conn: &mut Conn) {
    let t = cmdtable::table();
    conn.out.array(t.top.len());
    for &id in &t.top {
        command_info_one(conn, id);
    }
}

/// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p].
fn command_list(conn: &mut Conn, argv: &[Bytes]) {
    let t = cmdtable::table();
    let keep: Box<dyn Fn(usize) -> bool> = match argv.len() {
        2 => Box::new(|_| true),
        5 if eq_ic(&argv[2], "filterby") => {
            if eq_ic(&argv[3], "module") {
                Box::new(|_| false)
            } else if eq_ic(&argv[3], "aclcat") {
                let cat = format!("@{}", text(&argv[4]).to_ascii_lowercase());
                Box::new(move |id| t.categories(id).contains(&cat.as_str()))
            } else if eq_ic(&argv[3], "pattern") {
                let p = argv[4].clone();
                Box::new(move |id| {
                    crate::glob::stringmatch(&p, t.cmds[id].spec.name.as_bytes(), true)
                })
            } else {
                return conn.error(crate::commands::errors::SYNTAX);
            }
        }
        _ => return conn.error(crate::commands::errors::SYNTAX),
    };
    let names: Vec<&str> = (0..t.len())
        .filter(|&id| keep(id))
        .map(|id| t.cmds[id].spec.name)
        .collect();
    conn.out.array(names.len());
    for n in names {
        conn.out.bulk(n.as_bytes());
    }
}

/// ACL CAT [category]: the categories, or the commands and subcommands in one.
fn acl_cat(conn: &mut Conn, cat: Option<&Bytes>) {
    use crate::commands::spec::ACL_ORDER;
    let Some(cat) = cat else {
        conn.out.array(ACL_ORDER.len());
        for c in ACL_ORDER {
            conn.out.bulk(&c.as_bytes()[1..]);
        }
        return;
    };
    let want = format!("@{}", text(cat).to_ascii_lowercase());
    if !ACL_ORDER.contains(&want.as_str()) {
        return conn.error(&format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(&cat[..cat.len().min(128)])
        ));
    }
    let t = cmdtable::table();
    let names: Vec<&str> = (0..t.len())
        .filter(|&id| t.categories(id).contains(&want.as_str()))
        .map(|id| t.cmds[id].spec.name)
        .collect();
    conn.out.array(names.len());
    for n in names {
        conn.out.bulk(n.as_bytes());
    }
}

/// ACL GENPASS [bits]: (bits+3)/4 random hex characters.
fn acl_genpass(conn: &mut Conn, bits: Option<&Bytes>) {
    use rand::Rng;
    let bits = match bits {
        None => 256,
        Some(b) => match crate::commands::parse_i64(b) {
            Some(v) => v,
            None => return conn.error(crate::commands::errors::NOT_INTEGER),
        },
    };
    if bits <= 0 || bits > 4096 {
        return conn.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
    }
    let mut rng = rand::rng();
    let pass: String = (0..(bits + 3) / 4)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    conn.out.bulk(pass.as_bytes());
}

const ACL_HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_passwords_become_hash_rules() {
        assert_eq!(rule_text(b">pw"), ">pw");
        assert_eq!(
            rule_text(b">\xff"),
            format!("#{}", acl::sha256_hex(b"\xff"))
        );
        assert_eq!(
            rule_text(b"<\xff"),
            format!("!{}", acl::sha256_hex(b"\xff"))
        );
    }
}
