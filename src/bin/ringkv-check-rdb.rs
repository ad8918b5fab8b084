//! `ringkv-check-rdb FILE`: checks an RDB file like redis-check-rdb 7.0 and prints its report
//! in the same form. Exit code 0 when the file loads, 1 otherwise.

use ringkv::persistence::rdb::{self, read::Checksum, RdbEntry, Visitor};
use std::process::ExitCode;

struct Check {
    doing: &'static str,
    key: Option<Vec<u8>>,
    /// Like redis-check-rdb's zero-initialized state: type 0 until a key completes.
    key_type: Option<u8>,
    keys: u64,
    expires: u64,
    already_expired: u64,
    now_ms: i64,
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Visitor for Check {
    fn stage(&mut self, doing: &'static str) {
        self.doing = doing;
    }

    fn aux(&mut self, offset: u64, key: &[u8], val: &[u8]) {
        println!(
            "[offset {offset}] AUX FIELD {} = '{}'",
            show(key),
            show(val)
        );
    }

    fn select_db(&mut self, offset: u64, db: u64) -> Result<(), String> {
        println!("[offset {offset}] Selecting DB ID {db}");
        Ok(())
    }

    fn object_type(&mut self, type_id: u8) {
        self.key_type = Some(type_id);
    }

    fn begin_key(&mut self, _offset: u64, _type_id: u8, key: &[u8]) {
        self.keys += 1;
        self.key = Some(key.to_vec());
    }

    fn entry(&mut self, e: RdbEntry) -> Result<(), String> {
        if let Some(ms) = e.expire_ms {
            self.expires += 1;
            if ms < self.now_ms {
                self.already_expired += 1;
            }
        }
        self.key = None;
        self.key_type = None;
        Ok(())
    }

    fn function(&mut self, _code: &[u8]) -> Result<(), String> {
        // Checking a file does not need to run its functions.
        Ok(())
    }

    fn checksum(&mut self, offset: u64, c: Checksum) {
        match c {
            Checksum::Ok => println!("[offset {offset}] Checksum OK"),
            Checksum::Disabled => println!(
                "[offset {offset}] RDB file was saved with checksum disabled: no check performed."
            ),
            Checksum::Absent => {}
        }
    }
}

impl Check {
    fn info(&self) {
        println!("[info] {} keys read", self.keys);
        println!("[info] {} expires", self.expires);
        println!("[info] {} already expired", self.already_expired);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("Usage: ringkv-check-rdb <rdb-file-name>");
        return ExitCode::from(1);
    };
    println!("[offset 0] Checking RDB file {path}");
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset 0] Cannot open RDB file: {e}");
            return ExitCode::from(1);
        }
    };
    let mut check = Check {
        doing: "start",
        key: None,
        key_type: Some(0),
        keys: 0,
        expires: 0,
        already_expired: 0,
        now_ms: ringkv::keyspace::now_ms(),
    };
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    match rdb::load_with(reader, &mut check) {
        Ok(summary) => {
            println!("[offset {}] \\o/ RDB looks OK! \\o/", summary.bytes);
            check.info();
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset {}] {}", e.offset, e.what);
            println!("[additional info] While doing: {}", check.doing);
            if let Some(key) = &check.key {
                println!("[additional info] Reading key '{}'", show(key));
            }
            if let Some(t) = check.key_type {
                println!("[additional info] Reading type {t} ({})", rdb::type_name(t));
            }
            check.info();
            ExitCode::from(1)
        }
    }
}
