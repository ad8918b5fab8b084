//! Temp files a save leaves behind when the process dies in the middle of it (kill -9, OOM
//! killer, power loss): `temp-<pid>.rdb` (SAVE/BGSAVE, Redis's name), `temp-<time>.<pid>.rdb`
//! (a replica's transfer file, Redis's name) and `temp-rewriteaof-bg-<pid>.aof` (an AOF
//! rewrite's base). At startup the ones whose writer is gone are removed, so a crash loop does
//! not fill `dir`; the live dump (`dbfilename`) and files of a process still alive stay.

use std::path::Path;

/// The pid in a temp name of ours, or None when `name` is not one.
fn temp_owner(name: &str) -> Option<u32> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let pid = if let Some(rest) = name.strip_prefix("temp-rewriteaof-bg-") {
        rest.strip_suffix(".aof")?
    } else {
        let rest = name.strip_prefix("temp-")?.strip_suffix(".rdb")?;
        match rest.split_once('.') {
            Some((time, pid)) if digits(time) => pid,
            Some(_) => return None,
            None => rest,
        }
    };
    if !digits(pid) {
        return None;
    }
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the stale temp files in `dir` (logging each), never `dbfilename`, never one whose
/// writer still runs (another process with that pid; our own pid is stale by definition).
pub fn remove_stale(dir: &Path, dbfilename: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(pid) = temp_owner(name) else {
            continue;
        };
        if name == dbfilename || (pid != me && process_alive(pid)) {
            continue;
        }
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => tracing::info!(
                "Removed the stale temp file {name} left by an interrupted save (pid {pid})"
            ),
            Err(err) => tracing::warn!("Can't remove the stale temp file {name}: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::temp_owner;

    #[test]
    fn only_our_temp_names_are_recognised() {
        assert_eq!(temp_owner("temp-123.rdb"), Some(123));
        assert_eq!(temp_owner("temp-1700000000.77.rdb"), Some(77));
        assert_eq!(temp_owner("temp-rewriteaof-bg-9.aof"), Some(9));
        for other in [
            "dump.rdb",
            "temp-.rdb",
            "temp-12a.rdb",
            "temp-x.12.rdb",
            "temp-12.rdb.bak",
            "temp-appendonly.aof.incr",
            "temp-rewriteaof-bg-.aof",
            "mytemp-1.rdb",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }
}
