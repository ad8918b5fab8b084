//! `ringkv-check-aof`: checks (and with `--fix`, repairs) an append-only file or a multi-part
//! AOF directory's manifest, like redis-check-aof 7.0.

fn main() {
    let mut args = std::env::args();
    let prog = args.next().unwrap_or_else(|| "ringkv-check-aof".into());
    let rest: Vec<String> = args.collect();
    let stdin = std::io::stdin();
    let code = ringkv::persistence::aof::check::run(
        &prog,
        &rest,
        &mut std::io::stdout(),
        &mut stdin.lock(),
    );
    std::process::exit(code);
}
