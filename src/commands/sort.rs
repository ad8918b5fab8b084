//! SORT and SORT_RO (Redis's `sort.c`).
//!
//! BY and GET patterns name keys derived from the elements being sorted, and those keys may
//! live on any shard. So SORT is a coordinator:
//! 1. it reads the source on its shard and computes every key the patterns reference;
//! 2. it runs the whole sort (read, lookups, STORE) as one keyed command over the full key set:
//!    inline on the owning shard when all keys live there, else as a multi-shard transaction
//!    (`shard::multi`), which locks every key for the duration;
//! 3. the keyed step recomputes the referenced keys from the source it now sees; if the source
//!    changed in between so that a referenced key was not fetched, it answers "retry" and the
//!    coordinator starts over.
//!
//! The result is atomic: the reply (and the STORE) reflect one state of the source, the
//! pattern keys and the destination, with all of them locked while it is computed.

use super::errors;
use super::spec::*;
use super::{eq_ic, lookup_read, parse_i64, BoxFuture, Ctx, Handler};
use crate::keyspace::notify::{self, NOTIFY_GENERIC, NOTIFY_LIST};
use crate::keyspace::{now_ms, List, Value};
use crate::net::Conn;
use crate::resp::ReplyBuf;
use crate::shard::locks::LockKey;
use crate::shard::{multi, Mesh};
use bytes::Bytes;
use hashbrown::HashSet;
use std::cmp::Ordering;

const SUMMARY: &str = "Sort the elements in a list, set or sorted set";
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("sort", -2, WRITE | DENYOOM | DANGEROUS | OWN_EFFECTS, Keys::Custom(sort_keys), "generic", "1.0.0",
        SUMMARY, COMPLEXITY, Handler::Coord(sort))
        .with_legacy_keys(1, 1, 1)
        .without_group_acl()
        .with_acl(&["@set", "@sortedset", "@list"])
        .with_variable_key_flags(sort_key_flags)
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
            ks(KS_OW | KS_UPDATE, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array"),
        ]),
    spec("sort_ro", -2, READONLY | DANGEROUS, Keys::Range(1, 1, 1), "generic", "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", COMPLEXITY,
        Handler::Coord(sort_ro))
        .without_group_acl()
        .with_acl(&["@set", "@sortedset", "@list"])
        .with_getkeys_proc()
        .with_key_specs(&[
            ks(KS_RO | KS_ACCESS, BeginSearch::Index(1), FindKeys::Range(0, 1, 0)),
            ks(KS_RO | KS_ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
        ]),
];

/// The keyed step: argv is the client's argv, then the referenced keys, then their count.
/// One per command, so the step counts under the command's name in INFO commandstats.
static SORT_STEP: CommandSpec = spec(
    "sort",
    -3,
    WRITE | DENYOOM,
    Keys::Custom(step_keys),
    "generic",
    "1.0.0",
    SUMMARY,
    COMPLEXITY,
    Handler::Keyed(sort_step),
);
static SORT_RO_STEP: CommandSpec = spec(
    "sort_ro",
    -3,
    READONLY,
    Keys::Custom(step_keys),
    "generic",
    "7.0.0",
    SUMMARY,
    COMPLEXITY,
    Handler::Keyed(sort_step),
);

/// What the keyed step answers when the source no longer matches the fetched keys.
const RETRY: &str = "SORTRETRY source changed";

/// How often a SORT starts over before giving up (the source changing under it every time).
const MAX_ATTEMPTS: usize = 64;

/// SORT's keys as Redis's `sortGetKeys` finds them: the source and the STORE destination.
/// SORT reads the sorted key and overwrites STORE's destination (Redis's `sortGetKeys`).
fn sort_key_flags(_argv: &[Bytes], pos: usize) -> KeyFlags {
    if pos == 1 {
        KS_RO | KS_ACCESS
    } else {
        KS_OW | KS_UPDATE
    }
}

fn sort_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    out.push(1);
    if let Some(i) = store_position(argv) {
        out.push(i);
    }
}

/// The argv index of STORE's destination, skipping the arguments of LIMIT, GET and BY.
fn store_position(argv: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < argv.len() {
            found = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

/// Count argument of a keyed step that runs against all of the shard's keys (one shard, not
/// in a transaction): every referenced key is there, nothing to check.
const ALL_LOCAL: &[u8] = b"*";

/// Splits the keyed step's argv into the client's argv and the referenced keys.
fn split_step(argv: &[Bytes]) -> (&[Bytes], &[Bytes]) {
    let n = argv
        .last()
        .and_then(|c| parse_i64(c))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n + 2 < argv.len())
        .unwrap_or(0);
    let end = argv.len() - 1;
    (&argv[..end - n], &argv[end - n..end])
}

fn step_keys(argv: &[Bytes], out: &mut Vec<usize>) {
    let (client, refs) = split_step(argv);
    sort_keys(client, out);
    out.extend(client.len()..client.len() + refs.len());
}

// ---- Options ----------------------------------------------------------------------------------

#[derive(Default, Debug)]
pub struct SortOpts {
    pub desc: bool,
    pub alpha: bool,
    pub limit: Option<(i64, i64)>,
    pub store: Option<Bytes>,
    pub by: Option<Bytes>,
    pub gets: Vec<Bytes>,
    /// BY a pattern without `*`: nothing to sort by.
    pub dontsort: bool,
}

/// Parses SORT's options (argv from index 2) as Redis does, first error wins.
pub fn parse_opts(argv: &[Bytes], readonly: bool) -> Result<SortOpts, &'static str> {
    let mut o = SortOpts::default();
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let start = parse_i64(&argv[j + 1]).ok_or(errors::NOT_INTEGER)?;
            let count = parse_i64(&argv[j + 2]).ok_or(errors::NOT_INTEGER)?;
            o.limit = Some((start, count));
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            o.store = Some(argv[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            if !argv[j + 1].contains(&b'*') {
                o.dontsort = true;
            }
            o.by = Some(argv[j + 1].clone());
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            o.gets.push(argv[j + 1].clone());
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

// ---- Patterns ---------------------------------------------------------------------------------

/// What a BY/GET pattern refers to for one element.
#[derive(Debug, PartialEq)]
pub enum Deref<'p> {
    /// `#`: the element itself.
    Element,
    /// A string key, or a hash key's field (`pattern->field`).
    Key(Vec<u8>, Option<&'p [u8]>),
    /// No `*`: nothing.
    Nothing,
}

/// Substitutes `elem` for the first `*` of `pattern` (Redis's lookupKeyByPattern).
pub fn deref<'p>(pattern: &'p [u8], elem: &[u8]) -> Deref<'p> {
    if pattern == b"#" {
        return Deref::Element;
    }
    let Some(star) = pattern.iter().position(|&c| c == b'*') else {
        return Deref::Nothing;
    };
    let after = &pattern[star + 1..];
    let (rest, field) = match after.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < after.len() => (&after[..f], Some(&after[f + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + rest.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(rest);
    Deref::Key(key, field)
}

/// The value a pattern yields for `elem`: the element, a string key's value, or a hash field.
fn lookup_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    let (key, field) = match deref(pattern, elem) {
        Deref::Element => return Some(elem.to_vec()),
        Deref::Nothing => return None,
        Deref::Key(k, f) => (k, f),
    };
    let db = ctx.db;
    let v = lookup_read(&mut ctx.dbs[db], ctx.stats, ctx.now, &key, any_type).ok()??;
    match (v, field) {
        (Value::Str(s), None) => Some(s.clone().into_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

fn any_type(v: &Value) -> Result<&Value, &'static str> {
    Ok(v)
}

/// The source's elements in their native order; Err(WRONGTYPE) for other types.
fn elements(v: Option<&Value>) -> Result<Vec<Vec<u8>>, &'static str> {
    Ok(match v {
        None => Vec::new(),
        Some(Value::List(l)) => l.iter().map(<[u8]>::to_vec).collect(),
        Some(Value::Set(s)) => s.iter().map(|m| m.to_vec()).collect(),
        Some(Value::ZSet(z)) => z.iter(false).map(|(m, _)| m.to_vec()).collect(),
        Some(_) => return Err(errors::WRONGTYPE),
    })
}

/// Every key the BY and GET patterns reference for `elems`.
fn referenced_keys(o: &SortOpts, elems: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let by = o.by.as_ref().filter(|_| !o.dontsort);
    let patterns: Vec<&Bytes> = by.into_iter().chain(o.gets.iter()).collect();
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for e in elems {
        for p in &patterns {
            if let Deref::Key(k, _) = deref(p, e) {
                if seen.insert(k.clone()) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

// ---- Sorting ----------------------------------------------------------------------------------

/// Parses a weight the way `strtod` accepts it for SORT: leading blanks, then a number taking
/// the whole rest; overflow and NaN are errors.
fn parse_weight(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return Some(0.0);
    }
    let v: f64 = t.parse().ok()?;
    let lower = t.to_ascii_lowercase();
    let literal_inf = lower.trim_start_matches(['+', '-']).starts_with("inf");
    if v.is_nan() || (v.is_infinite() && !literal_inf) {
        return None;
    }
    Some(v)
}

struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

/// SORT's result: the elements in output order and (start, end) of the LIMIT window, or the
/// score conversion error.
fn sorted(ctx: &mut Ctx, o: &SortOpts, src: &Value) -> Result<Vec<Vec<u8>>, &'static str> {
    let mut dontsort = o.dontsort;
    let mut alpha = o.alpha;
    let mut by = o.by.as_ref();
    let is_set = matches!(src, Value::Set(_));
    // A set has no order of its own: sort it, so STORE's result is deterministic.
    if dontsort && is_set && o.store.is_some() {
        dontsort = false;
        alpha = true;
        by = None;
    }
    let mut elems = elements(Some(src))?;
    let len = elems.len() as i64;
    let (ls, lc) = o.limit.unwrap_or((0, -1));
    let mut start = ls.max(0).min(len);
    let count = lc.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if dontsort && !is_set {
        // Native order (reversed for DESC), LIMIT applied directly.
        if o.desc {
            elems.reverse();
        }
        let take = if end >= start {
            (end - start + 1) as usize
        } else {
            0
        };
        return Ok(elems.into_iter().skip(start as usize).take(take).collect());
    }
    if !dontsort {
        let mut items: Vec<Item> = Vec::with_capacity(elems.len());
        let mut bad = false;
        for elem in elems {
            let mut it = Item {
                elem,
                score: 0.0,
                cmp: None,
            };
            let byval = match by {
                Some(p) => lookup_pattern(ctx, p, &it.elem),
                None => Some(it.elem.clone()),
            };
            if let Some(v) = byval {
                if alpha {
                    if by.is_some() {
                        it.cmp = Some(v);
                    }
                } else {
                    match parse_weight(&v) {
                        Some(s) => it.score = s,
                        None => bad = true,
                    }
                }
            }
            items.push(it);
        }
        if bad {
            return Err("ERR One or more scores can't be converted into double");
        }
        let by_pattern = by.is_some();
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                match (&a.cmp, &b.cmp) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                a.elem.cmp(&b.elem)
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
        elems = items.into_iter().map(|i| i.elem).collect();
    }
    let take = if end >= start {
        (end - start + 1) as usize
    } else {
        0
    };
    Ok(elems
        .into_iter()
        .skip(start.max(0) as usize)
        .take(take)
        .collect())
}

/// The whole SORT against `ctx` (which holds every key involved): reply, STORE, events.
fn op_sort(ctx: &mut Ctx, argv: &[Bytes], o: &SortOpts) {
    let now = ctx.now;
    let db = ctx.db;
    let src = match lookup_read(&mut ctx.dbs[db], ctx.stats, now, &argv[1], any_type) {
        Ok(v) => v.cloned(),
        Err(e) => return ctx.error(e),
    };
    let src = src.unwrap_or_else(|| Value::List(List::default()));
    let out = match sorted(ctx, o, &src) {
        Ok(v) => v,
        Err(e) => return ctx.error(e),
    };
    match &o.store {
        None => {
            let per = o.gets.len().max(1);
            ctx.out.array(out.len() * per);
            for e in &out {
                // GET repeated many times multiplies the reply by the client's choice.
                if ctx.out.stop() {
                    break;
                }
                if o.gets.is_empty() {
                    ctx.out.bulk(e);
                }
                for g in &o.gets {
                    match lookup_pattern(ctx, g, e) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = List::default();
            for e in &out {
                if o.gets.is_empty() {
                    list.push(crate::keyspace::list::End::Tail, e);
                }
                for g in &o.gets {
                    let v = lookup_pattern(ctx, g, e).unwrap_or_default();
                    list.push(crate::keyspace::list::End::Tail, &v);
                }
            }
            let n = list.len();
            if n > 0 {
                ctx.db().set(dst, Value::List(list));
                ctx.dirty += n as u64;
                ctx.notify(NOTIFY_LIST, "sortstore", dst);
            } else if ctx.db().remove(dst, now).is_some() {
                ctx.dirty += 1;
                ctx.notify(NOTIFY_GENERIC, "del", dst);
            }
            ctx.out.int(n as i64);
        }
    }
}

/// The keyed step: checks that every key the patterns reference was provided, then sorts.
fn sort_step(ctx: &mut Ctx, argv: &[Bytes]) {
    let (client, refs) = split_step(argv);
    let readonly = eq_ic(&client[0], "sort_ro");
    let o = match parse_opts(client, readonly) {
        Ok(o) => o,
        Err(e) => return ctx.error(e),
    };
    let all_local = argv.last().is_some_and(|c| &c[..] == ALL_LOCAL);
    if needs_lookups(&o) && !all_local {
        let now = ctx.now;
        let db = ctx.db;
        let elems = elements(ctx.dbs[db].get(&client[1], now).map(|e| &e.value));
        if let Ok(elems) = elems {
            let have: HashSet<&[u8]> = refs.iter().map(|k| &k[..]).collect();
            if referenced_keys(&o, &elems)
                .iter()
                .any(|k| !have.contains(&k[..]))
            {
                return ctx.out.error(RETRY);
            }
        }
    }
    let before = ctx.dirty;
    op_sort(ctx, client, &o);
    if ctx.dirty != before && ctx.propagating() {
        // Replicas and the AOF get the client's SORT ... STORE, not this internal step.
        ctx.rewrite(client.to_vec());
    }
}

fn needs_lookups(o: &SortOpts) -> bool {
    let by = o.by.as_ref().is_some_and(|_| !o.dontsort);
    by || o.gets.iter().any(|g| g.contains(&b'*') && &g[..] != b"#")
}

// ---- Coordinator ------------------------------------------------------------------------------

fn sort<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(coordinate(conn, argv, false))
}

fn sort_ro<'a>(conn: &'a mut Conn, argv: &'a [Bytes]) -> BoxFuture<'a> {
    Box::pin(coordinate(conn, argv, true))
}

async fn coordinate(conn: &mut Conn, argv: &[Bytes], readonly: bool) {
    let o = match parse_opts(argv, readonly) {
        Ok(o) => o,
        Err(e) => return conn.error(e),
    };
    let shard = conn.shard.clone();
    let db = conn.db;
    let in_exec = conn.handle.info.borrow().flags.contains('x');
    for _ in 0..MAX_ATTEMPTS {
        // 1. The keys the patterns reference, from the source as it is now.
        let all_local = shard.nshards == 1 && !in_exec;
        let refs: Vec<Vec<u8>> = if needs_lookups(&o) && !all_local {
            let key = argv[1].clone();
            let elems = Mesh::run_on(&shard, shard.shard_of(&key), move |sh| {
                let now = now_ms();
                let data = sh.data.borrow();
                elements(data.dbs[db].get_live(&key, now).map(|e| &e.value)).unwrap_or_default()
            })
            .await;
            referenced_keys(&o, &elems)
        } else {
            Vec::new()
        };
        let mut step: Vec<Bytes> = argv.to_vec();
        let n = refs.len();
        step.extend(refs.into_iter().map(Bytes::from));
        step.push(if all_local {
            Bytes::from_static(ALL_LOCAL)
        } else {
            Bytes::from(n.to_string())
        });

        // 2. The whole sort over the full key set.
        let mut pos = Vec::new();
        step_keys(&step, &mut pos);
        let owners: HashSet<usize> = pos.iter().map(|&i| shard.shard_of(&step[i])).collect();
        let proto = conn.proto();
        let step_spec = if readonly { &SORT_RO_STEP } else { &SORT_STEP };
        let reply = if in_exec {
            // The block holds the locks of SORT's own keys; pattern keys are read unlocked.
            // (Counted once, by the transaction step: EXEC does not count its coordinators.)
            multi::execute_locked(
                &shard,
                db,
                proto,
                vec![(step_spec, sort_step, step)],
                conn.block_unit.as_mut(),
            )
            .await
        } else if owners.len() == 1 || shard.nshards == 1 {
            let target = owners.into_iter().next().unwrap_or(shard.id);
            let locks: Vec<LockKey> = pos
                .iter()
                .map(|&i| (db as u32, step[i].as_ref().into()))
                .collect();
            let (reply, events) = Mesh::run_async_on(&shard, target, move |sh| async move {
                sh.locks.wait_unlocked(&locks).await;
                let out = run_step(&sh, db, proto, step_spec, &step);
                (out, notify::take())
            })
            .await;
            notify::absorb(events);
            reply
        } else {
            let r = multi::execute(&shard, db, proto, vec![(step_spec, sort_step, step)]).await;
            // The dispatcher counts this call; the transaction step counted it too.
            uncount(&shard, step_spec.name);
            r
        };
        if !reply.starts_with(format!("-{RETRY}").as_bytes()) {
            conn.out.raw(&reply);
            // Built in a buffer of its own (maybe on another shard): one stopped at the limit
            // is at least the limit long, so the same check raises `closing` here too.
            conn.out.stop();
            return;
        }
    }
    conn.error("ERR SORT source kept changing while its pattern keys were fetched");
}

/// Takes back one call of `name` from this shard's command statistics.
fn uncount(shard: &crate::shard::Shard, name: &'static str) {
    let mut data = shard.data.borrow_mut();
    data.stats.total_commands = data.stats.total_commands.saturating_sub(1);
    if let Some(st) = data.stats.commands.get_mut(name) {
        st.calls = st.calls.saturating_sub(1);
    }
}

/// Runs the keyed step against shard `sh`'s own databases (the dispatcher counts the call,
/// so the step's own count is taken back).
fn run_step(
    sh: &crate::shard::Shard,
    db: usize,
    proto: crate::resp::Proto,
    spec: &'static super::CommandSpec,
    step: &[Bytes],
) -> Bytes {
    let mut out = ReplyBuf::new(proto);
    super::dispatch::run_here(
        sh,
        db,
        &mut out,
        spec,
        sort_step,
        step,
        &mut super::dispatch::RunClock::start(),
    );
    uncount(sh, spec.name);
    out.buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn patterns_substitute_the_first_star_and_split_hash_fields() {
        assert_eq!(deref(b"#", b"x"), Deref::Element);
        assert_eq!(deref(b"nostar", b"x"), Deref::Nothing);
        assert_eq!(deref(b"w_*", b"3"), Deref::Key(b"w_3".to_vec(), None));
        assert_eq!(
            deref(b"h_*->f", b"3"),
            Deref::Key(b"h_3".to_vec(), Some(&b"f"[..]))
        );
        // "->" at the very end is part of the key name.
        assert_eq!(deref(b"h_*->", b"3"), Deref::Key(b"h_3->".to_vec(), None));
    }

    #[test]
    fn store_key_is_found_past_option_arguments() {
        let argv: Vec<Bytes> = [
            "sort", "src", "by", "store", "limit", "0", "1", "store", "dst",
        ]
        .iter()
        .map(|s| b(s))
        .collect();
        let mut pos = Vec::new();
        sort_keys(&argv, &mut pos);
        assert_eq!(pos, vec![1, 8]);
    }

    #[test]
    fn options_parse_like_redis() {
        let argv: Vec<Bytes> = ["sort", "k", "limit", "x", "1"]
            .iter()
            .map(|s| b(s))
            .collect();
        assert_eq!(parse_opts(&argv, false).unwrap_err(), errors::NOT_INTEGER);
        let argv: Vec<Bytes> = ["sort_ro", "k", "store", "d"]
            .iter()
            .map(|s| b(s))
            .collect();
        assert_eq!(parse_opts(&argv, true).unwrap_err(), errors::SYNTAX);
        let argv: Vec<Bytes> = ["sort", "k", "by", "nosort", "by", "w_*"]
            .iter()
            .map(|s| b(s))
            .collect();
        assert!(parse_opts(&argv, false).is_ok_and(|o| o.dontsort));
        assert_eq!(parse_weight(b" 1.5"), Some(1.5));
        assert_eq!(parse_weight(b"1.5 "), None);
        assert_eq!(parse_weight(b""), Some(0.0));
        assert_eq!(parse_weight(b"1e400"), None);
        assert_eq!(parse_weight(b"-inf"), Some(f64::NEG_INFINITY));
    }
}
