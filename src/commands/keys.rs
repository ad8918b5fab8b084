//! Generic key commands (@keyspace).

use super::spec::*;
use super::{Ctx, Handler};
use bytes::Bytes;

pub static COMMANDS: &[CommandSpec] = &[
    spec("del", -2, WRITE, Keys::Range(1, -1, 1), "generic", "1.0.0", "Delete a key", "O(N) where N is the number of keys that will be removed.", Handler::Keyed(del)),
    spec("unlink", -2, WRITE | FAST, Keys::Range(1, -1, 1), "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "O(1) for each key removed regardless of its size.", Handler::Keyed(del)),
    spec("exists", -2, READONLY | FAST, Keys::Range(1, -1, 1), "generic", "1.0.0", "Determine if a key exists", "O(N) where N is the number of keys to check.", Handler::Keyed(exists)),
];

fn del(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let mut n = 0;
    for k in &argv[1..] {
        if ctx.db().remove(k, now).is_some() {
            n += 1;
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx, argv: &[Bytes]) {
    let now = ctx.now;
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.dbs[ctx.db].exists(k, now))
        .count();
    ctx.out.int(n as i64);
}
