//! Request parser throughput on a redis-benchmark-like pipeline: 16 `SET key:NNNNNN <16 bytes>`
//! and 16 `GET key:NNNNNN`, in RESP multibulk and in inline form.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringkv::resp::{ParseLimits, RequestParser};

const PAIRS: usize = 16;

fn multibulk_pipeline() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PAIRS {
        let key = format!("key:{:06}", 123 + i);
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$16\r\n0123456789abcdef\r\n",
                key.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes());
    }
    out
}

fn inline_pipeline() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PAIRS {
        let key = format!("key:{:06}", 123 + i);
        out.extend_from_slice(format!("SET {key} 0123456789abcdef\r\nGET {key}\r\n").as_bytes());
    }
    out
}

fn bench_pipeline(c: &mut Criterion, name: &str, pipeline: &[u8]) {
    let limits = ParseLimits::default();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(pipeline.len() as u64));
    group.bench_function("bytes", |b| {
        let mut parser = RequestParser::default();
        let mut argv = Vec::with_capacity(8);
        b.iter_batched(
            || BytesMut::from(pipeline),
            |mut buf| {
                let mut commands = 0;
                while let Ok(true) = parser.parse(&mut buf, &limits, &mut argv) {
                    commands += argv.len();
                }
                black_box(commands)
            },
            BatchSize::SmallInput,
        );
    });
    group.throughput(Throughput::Elements(2 * PAIRS as u64));
    group.bench_function("commands", |b| {
        let mut parser = RequestParser::default();
        let mut argv = Vec::with_capacity(8);
        b.iter_batched(
            || BytesMut::from(pipeline),
            |mut buf| {
                let mut commands = 0;
                while let Ok(true) = parser.parse(&mut buf, &limits, &mut argv) {
                    commands += 1;
                }
                black_box(commands)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn parser(c: &mut Criterion) {
    bench_pipeline(c, "parse_multibulk_set_get_x16", &multibulk_pipeline());
    bench_pipeline(c, "parse_inline_set_get_x16", &inline_pipeline());
}

criterion_group!(benches, parser);
criterion_main!(benches);
