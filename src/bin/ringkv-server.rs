//! `ringkv-server`: the data node.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(ringkv::server::node::main_entry());
}
