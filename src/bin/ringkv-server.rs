//! `ringkv-server`: the data node.

#[global_allocator]
static GLOBAL: ringkv::alloc::Counting<mimalloc::MiMalloc> =
    ringkv::alloc::Counting(mimalloc::MiMalloc);

fn main() {
    std::process::exit(ringkv::server::node::main_entry());
}
