//! dpkg's version comparison.
//!
//! Hand-written after dpkg's `verrevcmp`: a version is
//! `[epoch:]upstream[-revision]`; epochs compare as numbers, then the
//! upstream parts, then the revisions. Each part is compared as alternating
//! runs of non-digits (letters sort before non-letters, `~` sorts before
//! everything, even the end of the string) and digits (compared as numbers).

use std::cmp::Ordering;

/// Compares two Debian version strings the way `dpkg --compare-versions` does.
///
/// ```
/// use std::cmp::Ordering;
/// use lockship_debian::compare_versions;
/// assert_eq!(compare_versions("1.0~rc1", "1.0"), Ordering::Less);
/// assert_eq!(compare_versions("1:0.9", "2.0"), Ordering::Greater);
/// assert_eq!(compare_versions("2.36-9+deb12u4", "2.36-9+deb12u10"), Ordering::Less);
/// ```
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let a = Parsed::new(a);
    let b = Parsed::new(b);
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

struct Parsed<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> Parsed<'a> {
    fn new(version: &'a str) -> Self {
        let version = version.trim();
        let (epoch, rest) = match version.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
                (e.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, version),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        Parsed {
            epoch,
            upstream,
            revision,
        }
    }
}

/// The sort weight of a non-digit character (0 = end of string or a digit).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(b'~') => -1,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    let is_digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !is_digit(a, i)) || (j < b.len() && !is_digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, compared as a number: skip leading zeros, then the
        // longer run wins, else the first differing digit decides.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(a, i) && is_digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if is_digit(a, i) {
            return Ordering::Greater;
        }
        if is_digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[track_caller]
    fn check(a: &str, b: &str, expected: Ordering) {
        assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
        assert_eq!(compare_versions(b, a), expected.reverse(), "{b} vs {a}");
    }

    #[test]
    fn equal_forms() {
        check("1.0", "1.0", Equal);
        check("1.0", "1.0-0", Equal);
        check("0:1.0", "1.0", Equal);
        check("1.01", "1.1", Equal);
        check("1.0-1", "1.0-01", Equal);
    }

    #[test]
    fn epochs_dominate() {
        check("1:0.1", "0:9.9", Greater);
        check("2:1", "10:1", Less);
        check("1:1.0-1", "1.0-1", Greater);
    }

    #[test]
    fn tilde_sorts_before_everything() {
        check("1.0~rc1", "1.0", Less);
        check("1.0~rc1", "1.0~rc2", Less);
        check("1.0~~", "1.0~", Less);
        check("1.0~~a", "1.0~~", Greater);
        check("1.0~", "1.0", Less);
        check("2.36-9~bpo1", "2.36-9", Less);
    }

    #[test]
    fn letters_sort_before_other_characters() {
        check("1.0a", "1.0+", Less);
        check("1.0a", "1.0.", Less);
        check("1.0+", "1.0.", Less); // '+' (43) < '.' (46)
        check("1.0a", "1.0", Greater);
        check("1.0b", "1.0a", Greater);
        check("1.0A", "1.0a", Less);
    }

    #[test]
    fn numbers_compare_numerically() {
        check("1.10", "1.9", Greater);
        check("1.2.3", "1.2.10", Less);
        check("10", "9", Greater);
        check("1.0", "1.0.1", Less);
        check("3.11.2-6+deb12u6", "3.11.2-6+deb12u10", Less);
        check("2.36-9+deb12u4", "2.36-9+deb12u4", Equal);
    }

    #[test]
    fn revisions_compare_after_upstream() {
        check("1.0-2", "1.0-10", Less);
        check("1.0-1", "1.0", Greater);
        check("1.0-a", "1.0-1", Greater);
        // The revision is what follows the last hyphen.
        check("1.0-2-1", "1.0-10", Greater);
        check("1.0-2-1", "1.0-2-2", Less);
    }

    #[test]
    fn realistic_debian_versions() {
        let mut versions = vec![
            "1:2.38.1-5",
            "2.38.1-5+deb12u1",
            "2.38.1-5",
            "2.38.1-5~bpo11+1",
            "2.38~rc1-1",
            "0:2.38.1-5+b1",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            vec![
                "2.38~rc1-1",
                "2.38.1-5~bpo11+1",
                "2.38.1-5",
                "0:2.38.1-5+b1",
                "2.38.1-5+deb12u1",
                "1:2.38.1-5",
            ]
        );
    }
}
