//! One connection's CLIENT TRACKING options (`networking.c`, shared by the data node and
//! sentinel mode): option checks, CLIENT CACHING / GETREDIR / TRACKINGINFO replies, as Redis.
//! A sentinel holds no keys, so it never sends invalidations; the data node does ([`super`]).

use crate::commands::eq_ic;
use crate::resp::ReplyBuf;
use bytes::Bytes;
use std::collections::BTreeSet;

/// One connection's tracking state (the `CLIENT_TRACKING*` flags).
#[derive(Default, Clone)]
pub struct Tracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING yes/no given for the next command.
    pub caching: bool,
    pub redirect: i64,
    /// BCAST prefixes, in byte order (Redis keeps them in a radix tree).
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// What a CLIENT tracking subcommand answers: zero, one or (Redis's prefix-collision quirk)
/// two replies.
pub enum Reply {
    Ok,
    Error(String),
    /// An error followed by +OK: Redis reports an overlap between the second or later
    /// provided prefixes and still enables tracking.
    ErrorThenOk(String),
    Int(i64),
    Info,
}

fn is_prefix(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    /// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP];
    /// `client_exists` answers whether a REDIRECT target is connected.
    pub fn tracking(&mut self, argv: &[Bytes], client_exists: impl Fn(i64) -> bool) -> Reply {
        let (mut redir, mut bcast, mut optin, mut optout, mut noloop) =
            (0i64, false, false, false, false);
        let mut prefixes: Vec<&[u8]> = Vec::new();
        let mut j = 3;
        while j < argv.len() {
            let more = j + 1 < argv.len();
            let a = &argv[j];
            if eq_ic(a, "redirect") && more {
                j += 1;
                if redir != 0 {
                    return Reply::Error(
                        "ERR A client can only redirect to a single other client".into(),
                    );
                }
                let Some(id) = crate::commands::parse_i64(&argv[j]) else {
                    return Reply::Error(crate::commands::errors::NOT_INTEGER.into());
                };
                if !client_exists(id) {
                    return Reply::Error(
                        "ERR The client ID you want redirect to does not exist".into(),
                    );
                }
                redir = id;
            } else if eq_ic(a, "bcast") {
                bcast = true;
            } else if eq_ic(a, "optin") {
                optin = true;
            } else if eq_ic(a, "optout") {
                optout = true;
            } else if eq_ic(a, "noloop") {
                noloop = true;
            } else if eq_ic(a, "prefix") && more {
                j += 1;
                prefixes.push(&argv[j]);
            } else {
                return Reply::Error(crate::commands::errors::SYNTAX.into());
            }
            j += 1;
        }
        if eq_ic(&argv[2], "off") {
            *self = Tracking::default();
            return Reply::Ok;
        }
        if !eq_ic(&argv[2], "on") {
            return Reply::Error(crate::commands::errors::SYNTAX.into());
        }
        if !bcast && !prefixes.is_empty() {
            return Reply::Error("ERR PREFIX option requires BCAST mode to be enabled".into());
        }
        if self.on && self.bcast != bcast {
            return Reply::Error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        if bcast && (optin || optout) {
            return Reply::Error("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
        }
        if optin && optout {
            return Reply::Error("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
        }
        if (optin && self.optout) || (optout && self.optin) {
            return Reply::Error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
        }
        let mut late_overlap = None;
        if bcast {
            for (i, p) in prefixes.iter().enumerate() {
                if let Some(old) = self.prefixes.iter().find(|o| is_prefix(o, p)) {
                    return Reply::Error(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(old)
                    ));
                }
                if let Some(q) = prefixes[i + 1..].iter().find(|q| is_prefix(p, q)) {
                    let e = format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    );
                    // checkPrefixCollisionsOrReply returns the index: 0 stops, more goes on.
                    if i == 0 {
                        return Reply::Error(e);
                    }
                    late_overlap = Some(e);
                    break;
                }
            }
        }
        // enableTracking
        self.on = true;
        self.redirect = redir;
        self.bcast = bcast;
        self.optin = optin;
        self.optout = optout;
        self.noloop = noloop;
        if bcast {
            if prefixes.is_empty() {
                self.prefixes.insert(Vec::new());
            }
            for p in prefixes {
                self.prefixes.insert(p.to_vec());
            }
        }
        match late_overlap {
            Some(e) => Reply::ErrorThenOk(e),
            None => Reply::Ok,
        }
    }

    /// CLIENT CACHING yes|no.
    pub fn caching(&mut self, arg: &[u8]) -> Reply {
        if !self.on {
            return Reply::Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into());
        }
        if eq_ic(arg, "yes") {
            if !self.optin {
                return Reply::Error(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
                        .into(),
                );
            }
        } else if eq_ic(arg, "no") {
            if !self.optout {
                return Reply::Error(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
                        .into(),
                );
            }
        } else {
            return Reply::Error(crate::commands::errors::SYNTAX.into());
        }
        self.caching = true;
        Reply::Ok
    }

    /// CLIENT GETREDIR.
    pub fn getredir(&self) -> i64 {
        if self.on {
            self.redirect
        } else {
            -1
        }
    }

    /// CLIENT TRACKINGINFO's map.
    pub fn write_info(&self, out: &mut ReplyBuf) {
        let mut flags = vec![if self.on { "on" } else { "off" }];
        if self.bcast {
            flags.push("bcast");
        }
        if self.optin {
            flags.push("optin");
            if self.caching {
                flags.push("caching-yes");
            }
        }
        if self.optout {
            flags.push("optout");
            if self.caching {
                flags.push("caching-no");
            }
        }
        if self.noloop {
            flags.push("noloop");
        }
        out.map(3);
        out.bulk(b"flags");
        out.set(flags.len());
        for f in flags {
            out.bulk(f.as_bytes());
        }
        out.bulk(b"redirect");
        out.int(self.getredir());
        out.bulk(b"prefixes");
        out.array(self.prefixes.len());
        for p in &self.prefixes {
            out.bulk(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    fn err(r: Reply) -> String {
        match r {
            Reply::Error(e) | Reply::ErrorThenOk(e) => e,
            _ => String::new(),
        }
    }

    #[test]
    fn options_are_checked_like_redis() {
        let mut t = Tracking::default();
        let none = |_| false;
        assert!(
            err(t.tracking(&argv(&["client", "tracking", "on", "prefix", "x"]), none))
                .contains("requires BCAST")
        );
        assert!(err(t.tracking(
            &argv(&["client", "tracking", "on", "optin", "optout"]),
            none
        ))
        .contains("both OPTIN mode and OPTOUT"));
        assert!(
            err(t.tracking(&argv(&["client", "tracking", "on", "redirect", "7"]), none))
                .contains("does not exist")
        );
        assert!(matches!(
            t.tracking(&argv(&["client", "tracking", "on", "optin"]), none),
            Reply::Ok
        ));
        assert!(matches!(t.caching(b"yes"), Reply::Ok));
        assert!(err(t.caching(b"no")).contains("OPTOUT mode"));
        assert_eq!(t.getredir(), 0);
        assert!(matches!(
            t.tracking(&argv(&["client", "tracking", "off"]), none),
            Reply::Ok
        ));
        assert_eq!(t.getredir(), -1);
    }

    #[test]
    fn bcast_prefixes_must_not_overlap() {
        let mut t = Tracking::default();
        let none = |_| false;
        let on = |p: &[&str]| {
            let mut a = vec!["client", "tracking", "on", "bcast"];
            for x in p {
                a.push("prefix");
                a.push(x);
            }
            argv(&a)
        };
        assert!(err(t.tracking(&on(&["a", "ab"]), none)).contains("another provided prefix 'ab'"));
        assert!(!t.on);
        assert!(matches!(
            t.tracking(&on(&["a", "b", "bc"]), none),
            Reply::ErrorThenOk(_)
        ));
        assert!(t.on);
        assert!(err(t.tracking(&on(&["ax"]), none)).contains("existing prefix 'a'"));
    }
}
