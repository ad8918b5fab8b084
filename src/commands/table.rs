//! The command table: every family's specs, looked up case-insensitively without allocating.

use super::spec::CommandSpec;
use hashbrown::HashMap;
use std::sync::LazyLock;

/// Every family's specs, in one list.
pub fn families() -> impl Iterator<Item = &'static CommandSpec> {
    [
        super::connection::COMMANDS,
        super::string::COMMANDS,
        super::bitmap::COMMANDS,
        super::keys::COMMANDS,
        super::dump::COMMANDS,
        super::list::COMMANDS,
        super::server::COMMANDS,
        super::client::COMMANDS,
        super::introspect::COMMANDS,
        super::debug::COMMANDS,
        super::transaction::COMMANDS,
        super::pubsub::COMMANDS,
        super::zset::COMMANDS,
        super::hash::COMMANDS,
        super::set::COMMANDS,
        super::blocking::COMMANDS,
        crate::persistence::aof::COMMANDS,
        super::sort::COMMANDS,
        super::persist::COMMANDS,
        super::replication::COMMANDS,
        super::wait::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

static TABLE: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> =
    LazyLock::new(|| families().map(|s| (s.name.as_bytes(), s)).collect());

/// Longest command or subcommand name we look up; longer names are unknown.
const MAX_NAME: usize = 40;

fn lower<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    if name.len() > MAX_NAME {
        return None;
    }
    let b = &mut buf[..name.len()];
    b.copy_from_slice(name);
    b.make_ascii_lowercase();
    Some(b)
}

pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; MAX_NAME];
    TABLE.get(lower(name, &mut buf)?).copied()
}

pub fn lookup_sub(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; MAX_NAME];
    let n = lower(name, &mut buf)?;
    // Subcommand specs are named by their full name, "parent|sub".
    parent
        .subcommands
        .iter()
        .find(|s| s.name.split_once('|').map(|(_, sub)| sub.as_bytes()) == Some(n))
}

pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.values().copied()
}

pub fn count() -> usize {
    TABLE.len()
}
