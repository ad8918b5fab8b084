//! Dispatch of GET and SET on the inline path: command lookup, arity check and the shard-local
//! handler writing its reply, as a connection on the owning shard runs them (no executor needed:
//! the inline path is synchronous).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringkv::commands::dispatch::{resolve, run_here, RunClock};
use ringkv::commands::Handler;
use ringkv::config::Config;
use ringkv::resp::{Proto, ReplyBuf};
use ringkv::server::ShutdownSignal;
use ringkv::shard::{Shard, Shared};
use std::hint::black_box;
use std::sync::Arc;

const KEYS: usize = 10_000;

fn shard() -> Shard {
    let mut config = Config::default();
    config.shards = 1;
    let shared = Arc::new(Shared::new(
        config,
        String::new(),
        Arc::new(ShutdownSignal::new()),
    ));
    Shard::new(0, shared)
}

fn argv(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}

fn dispatch(shard: &Shard, out: &mut ReplyBuf, argv: &[Bytes], clock: &mut RunClock) {
    let spec = resolve(argv).expect("known command");
    let Handler::Keyed(f) = spec.handler else {
        unreachable!("GET and SET are keyed")
    };
    run_here(shard, 0, out, spec, f, argv, clock);
}

fn bench(c: &mut Criterion) {
    let shard = shard();
    let keys: Vec<Bytes> = (0..KEYS)
        .map(|i| Bytes::from(format!("key:{i:06}")))
        .collect();
    let sets: Vec<Vec<Bytes>> = keys
        .iter()
        .map(|k| argv(&[b"SET", k, b"0123456789abcdef"]))
        .collect();
    let gets: Vec<Vec<Bytes>> = keys.iter().map(|k| argv(&[b"GET", k])).collect();
    let mut out = ReplyBuf::new(Proto::Resp2);
    let mut clock = RunClock::start();
    for s in &sets {
        dispatch(&shard, &mut out, s, &mut clock);
    }
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(KEYS as u64));
    g.bench_function("set", |b| {
        b.iter(|| {
            out.buf.clear();
            // One clock per pipeline of 16, as a connection reading a redis-benchmark -P 16
            // batch would.
            for run in sets.chunks(16) {
                let mut clock = RunClock::start();
                for s in run {
                    dispatch(&shard, &mut out, black_box(s), &mut clock);
                }
            }
        })
    });
    g.bench_function("get", |b| {
        b.iter(|| {
            out.buf.clear();
            for run in gets.chunks(16) {
                let mut clock = RunClock::start();
                for s in run {
                    dispatch(&shard, &mut out, black_box(s), &mut clock);
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
