//! `ringkv-sentinel sentinel.conf [--opt val ...]`: Redis Sentinel mode.

fn main() {
    std::process::exit(ringkv::sentinel::run::main_entry());
}
