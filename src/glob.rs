//! Redis's glob matcher (`stringmatchlen` in util.c), shared by KEYS, SCAN MATCH and anything
//! else that filters names by a user pattern (PUBSUB CHANNELS, PSUBSCRIBE, ...).
//!
//! `*` any run of bytes, `?` one byte, `[abc]` `[^abc]` `[a-z]` classes (bounds swapped when
//! reversed; an unterminated class ends at the pattern's end), `\x` a literal `x`. Bytes compare
//! the way Redis's C code does: as *signed* chars inside class ranges, so `[a-\xff]` behaves
//! like Redis, and `nocase` folds ASCII only.

/// Does `string` match the glob `pattern`?
pub fn stringmatch(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    matches(pattern, string, nocase, &mut skip_longer)
}

#[inline]
fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// `skip_longer` is Redis's `skipLongerMatches`: once the rest of a pattern after a `*` failed
/// against every suffix, an earlier `*` cannot help by eating more, which keeps patterns like
/// `*a*a*a*a*b` linear-ish instead of exponential.
fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if matches(&p[1..], s, nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = s[0];
                let mut hit = false;
                loop {
                    match p {
                        [] => break,
                        [b'\\', esc, ..] => {
                            if *esc == c {
                                hit = true;
                            }
                            p = &p[1..];
                        }
                        [b']', ..] => break,
                        [lo, b'-', hi, ..] => {
                            let (mut lo, mut hi) = (*lo as i8, *hi as i8);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            let (lo, hi, ch) = (
                                fold(lo as u8, nocase) as i8,
                                fold(hi as u8, nocase) as i8,
                                fold(c, nocase) as i8,
                            );
                            if ch >= lo && ch <= hi {
                                hit = true;
                            }
                            p = &p[2..];
                        }
                        [x, ..] => {
                            if fold(*x, nocase) == fold(c, nocase) {
                                hit = true;
                            }
                        }
                    }
                    p = &p[1..];
                }
                if hit == not {
                    return false;
                }
                s = &s[1..];
                // An unterminated class consumed the whole pattern; nothing left to step over.
                if p.is_empty() {
                    return s.is_empty();
                }
            }
            lit => {
                let lit = if lit == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    lit
                };
                if fold(lit, nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::stringmatch;

    fn m(p: &str, s: &str) -> bool {
        stringmatch(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", "anything"));
        assert!(m("*", "x"));
        // Like Redis: a non-empty pattern never matches the empty string unless it is only
        // stars after the loop... which the loop never enters for "".
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("t*", "two"));
        assert!(m("*o", "two"));
        assert!(!m("*o", "three"));
        assert!(m("a**b", "axxb"));
        assert!(m("ab*", "ab"));
        assert!(!m("*a*a*a*a*a*a*a*a*a*a*b", &"a".repeat(60)));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-e]llo", "hcllo"));
        assert!(m("h[e-a]llo", "hcllo"));
        assert!(!m("h[a-e]llo", "hfllo"));
        assert!(m("[\\]]", "]"));
        assert!(m("[a-", "-"));
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "bx"));
        assert!(stringmatch(b"[A-C]x", b"bX", true));
        assert!(!stringmatch(b"[A-C]x", b"bX", false));
    }

    #[test]
    fn escapes() {
        assert!(m("h\\?llo", "h?llo"));
        assert!(!m("h\\?llo", "hello"));
        assert!(m("\\[x]", "[x]"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hallo"));
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn nocase_folds_ascii_only() {
        assert!(stringmatch(b"HELLO*", b"hello world", true));
        assert!(!stringmatch(b"HELLO*", b"hello world", false));
        assert!(!stringmatch("É".as_bytes(), "é".as_bytes(), true));
    }
}
