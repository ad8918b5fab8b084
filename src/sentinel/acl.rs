//! Sentinel's users (what `09-acl-support` and `sentinel-user`/`sentinel-pass` deployments need):
//! named users with passwords that can be switched on and off, AUTH / HELLO AUTH against them,
//! ACL SETUSER / DELUSER / WHOAMI / USERS. Permission rules are accepted and not enforced
//! (every enabled user may run every sentinel command).

use std::collections::HashMap;

pub struct User {
    pub name: &'static str,
    pub enabled: bool,
    pub nopass: bool,
    pub passwords: Vec<Vec<u8>>,
}

pub struct Acl {
    pub users: Vec<User>,
    /// The user each authenticated connection (client id) runs as.
    pub conn_user: HashMap<u64, &'static str>,
    /// User names handed out as `&'static str` (CLIENT LIST's `user=`): leaked once per name.
    names: Vec<&'static str>,
    /// Set when the default user is switched off: the first client id that must AUTH.
    /// Connections that were already in as the default user stay in, as in Redis.
    pub default_off_from: Option<u64>,
}

pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

impl Acl {
    /// The default user: on, with `requirepass` as its password (nopass without one).
    pub fn new(requirepass: Option<&[u8]>) -> Acl {
        Acl {
            users: vec![User {
                name: "default",
                enabled: true,
                nopass: requirepass.is_none(),
                passwords: requirepass.map(|p| vec![p.to_vec()]).unwrap_or_default(),
            }],
            conn_user: HashMap::new(),
            names: vec!["default"],
            default_off_from: None,
        }
    }

    fn intern(&mut self, name: &str) -> &'static str {
        if let Some(n) = self.names.iter().find(|n| **n == name) {
            return n;
        }
        let n: &'static str = Box::leak(name.to_string().into_boxed_str());
        self.names.push(n);
        n
    }

    /// Whether a connection that never authenticated may run commands (default user on and
    /// without password).
    pub fn default_open(&self) -> bool {
        self.users
            .iter()
            .any(|u| u.name == "default" && u.enabled && u.nopass)
    }

    /// The user `name` authenticates with `pass`.
    pub fn check(&self, name: &[u8], pass: &[u8]) -> Option<&'static str> {
        let u = self.users.iter().find(|u| u.name.as_bytes() == name)?;
        (u.enabled && (u.nopass || u.passwords.iter().any(|p| p[..] == pass[..]))).then_some(u.name)
    }

    /// ACL SETUSER: applies the rules in order; the error is Redis's reply text.
    pub fn setuser(&mut self, name: &str, rules: &[String]) -> Result<(), String> {
        let mut user = match self.users.iter().position(|u| u.name == name) {
            Some(i) => self.users.remove(i),
            None => User {
                name: self.intern(name),
                enabled: false,
                nopass: false,
                passwords: Vec::new(),
            },
        };
        let result = (|| {
            for r in rules {
                let lower = r.to_ascii_lowercase();
                match lower.as_str() {
                    "on" => user.enabled = true,
                    "off" => user.enabled = false,
                    "nopass" => {
                        user.nopass = true;
                        user.passwords.clear();
                    }
                    "resetpass" => {
                        user.nopass = false;
                        user.passwords.clear();
                    }
                    "reset" => {
                        user.enabled = false;
                        user.nopass = false;
                        user.passwords.clear();
                    }
                    "allkeys" | "allchannels" | "allcommands" | "nocommands" | "resetkeys"
                    | "resetchannels" => {}
                    _ if r.starts_with('>') => {
                        let p = r.as_bytes()[1..].to_vec();
                        user.nopass = false;
                        if !user.passwords.contains(&p) {
                            user.passwords.push(p);
                        }
                    }
                    _ if r.starts_with('<') => {
                        let p = &r.as_bytes()[1..];
                        user.passwords.retain(|x| x[..] != *p);
                    }
                    _ if r.starts_with(['+', '-', '~', '&', '%']) => {}
                    _ => {
                        return Err(format!(
                            "ERR Error in ACL SETUSER modifier '{r}': Syntax error"
                        ))
                    }
                }
            }
            Ok(())
        })();
        // Like Redis, a failed SETUSER leaves an existing user unchanged... and creates nothing.
        match result {
            Ok(()) => {
                self.users.push(user);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_passwords_and_switches() {
        let mut a = Acl::new(None);
        assert!(a.default_open());
        a.setuser("u", &[">pw".into(), "+@all".into(), "on".into()])
            .unwrap();
        assert_eq!(a.check(b"u", b"pw"), Some("u"));
        assert_eq!(a.check(b"u", b"no"), None);
        a.setuser("default", &["off".into()]).unwrap();
        assert!(!a.default_open());
        assert!(a.setuser("v", &["bogus".into()]).is_err());
        assert!(a.users.iter().all(|u| u.name != "v"));
    }
}
