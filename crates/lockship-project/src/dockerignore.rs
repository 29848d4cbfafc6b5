//! `.dockerignore`: Docker's pattern language, read and matched the way the
//! Docker CLI and BuildKit do (their shared `patternmatcher`), so a project
//! packed by lockship leaves out exactly what `docker build` would.
//!
//! - Lines starting with `#` are comments (before any trimming, as Docker
//!   does); blank lines are skipped; a UTF-8 BOM is dropped.
//! - Each pattern is cleaned like a path (`./a//b/../c/` is `a/c`), and a
//!   leading `/` is dropped: patterns are relative to the project directory.
//! - `*` matches any run of characters but `/`, `?` one character but `/`,
//!   `**` any number of directories (`**/x`, `a/**/x`, `a/**`), `[a-z]` and
//!   `[^a-z]` a character class, `\x` the character `x`.
//! - A pattern that matches a directory leaves out everything below it.
//! - `!pattern` is an exception: it puts back what it matches, even inside a
//!   left-out directory. Rules apply in order and the last one that matches
//!   wins.
//!
//! As in Docker, `[!x]` is a class of `!` and `x` (Go's patterns negate with
//! `^` only), and a pattern that is not valid (an unclosed `[`, a reversed
//! range, a trailing `\`, a lone `!`) is an error rather than a silent
//! miss.
//!
//! [`SECRET_PATTERNS`] lists the files that never go into an image unless the
//! project says so ([`Dockerignore::names`] tells whether an exception names
//! a file).

use std::path::Path;

use crate::ProjectError;

/// Files that look like credentials: never copied from a project unless it
/// opts in. Each applies at any depth.
pub const SECRET_PATTERNS: &[&str] = &[
    "**/.env*",
    "**/.ssh",
    "**/.aws",
    "**/.npmrc",
    "**/.pypirc",
    "**/.netrc",
    "**/*.pem",
    "**/*.key",
    "**/id_rsa*",
    "**/id_ed25519*",
    "**/id_ecdsa*",
    "**/.git",
];

/// A parsed `.dockerignore`: its rules, in order.
#[derive(Debug, Clone, Default)]
pub struct Dockerignore {
    rules: Vec<Rule>,
}

/// One line of a `.dockerignore`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The pattern as matched: cleaned, without `!`, no leading `/`.
    pub pattern: String,
    /// An exception (`!pattern`): puts back what it matches.
    pub exception: bool,
    /// The 1-based line it came from.
    pub line: usize,
    matcher: Matcher,
}

impl Dockerignore {
    /// Reads `dir/.dockerignore`; no file means no rules.
    pub fn load(dir: &Path) -> Result<Dockerignore, ProjectError> {
        let path = dir.join(".dockerignore");
        match std::fs::read(&path) {
            Ok(bytes) => parse(&path, &String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Dockerignore::default()),
            Err(source) => Err(ProjectError::Io { path, source }),
        }
    }

    /// Rules from a list of patterns (one per item, `.dockerignore` syntax
    /// without comments); `source` names them in errors.
    pub fn from_patterns<'a>(
        source: &Path,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Dockerignore, ProjectError> {
        parse(source, &patterns.into_iter().collect::<Vec<_>>().join("\n"))
    }

    /// Appends `later`'s rules after these (so they win where both match).
    pub fn extend(&mut self, later: Dockerignore) {
        self.rules.extend(later.rules);
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether `path` (relative to the project directory, `/`-separated) is
    /// left out: by a rule matching it or one of its parent directories,
    /// unless a later exception puts it back.
    pub fn is_excluded(&self, path: &str) -> bool {
        let file = clean(path);
        if file == "." {
            return false;
        }
        let mut excluded = false;
        for rule in &self.rules {
            // An exclusion cannot change an excluded path, nor an exception
            // an included one.
            if rule.exception != excluded {
                continue;
            }
            if rule.matcher.matches_or_parent(&file) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an exception names `path` itself (not only a directory above
    /// it) with a pattern that is more than wildcards: what it takes to put
    /// back a file that looks like a secret.
    pub fn names(&self, path: &str) -> bool {
        let file = clean(path);
        self.rules.iter().any(|r| {
            r.exception
                && r.pattern
                    .rsplit('/')
                    .next()
                    .is_some_and(|last| last.chars().any(|c| !matches!(c, '*' | '?')))
                && r.matcher.matches(&file)
        })
    }

    /// Whether some rule's pattern matches `path` itself (not a directory
    /// above it): the rules used as a list of globs.
    pub(crate) fn matches_exactly(&self, path: &str) -> bool {
        let file = clean(path);
        self.rules.iter().any(|r| r.matcher.matches(&file))
    }

    /// Whether some exception could put back a path below the directory
    /// `dir`: when not, a left-out directory need not be read at all.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let dir = clean(dir);
        let dir_parts: Vec<&str> = dir.split('/').collect();
        self.rules.iter().filter(|r| r.exception).any(|r| {
            let parts: Vec<&str> = r.pattern.split('/').collect();
            for (k, part) in parts.iter().enumerate() {
                if part.contains("**") {
                    return true;
                }
                let Some(name) = dir_parts.get(k) else {
                    return true;
                };
                match compile(part) {
                    Ok(m) if m.matches(name) => {}
                    // A part that does not compile alone (a class holding
                    // `/`): assume it may match.
                    Err(_) => return true,
                    Ok(_) => return false,
                }
            }
            // The exception names `dir` or a parent: it puts back `dir`
            // itself, and what a later rule leaves out is decided per path.
            true
        })
    }
}

/// Parses the text of a `.dockerignore` (`path` names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<Dockerignore, ProjectError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        // Docker tests for a comment before trimming: ` #x` is a pattern.
        if raw.starts_with('#') {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason: &str| ProjectError::Dockerignore {
            path: path.to_path_buf(),
            line: i + 1,
            pattern: line.to_string(),
            reason: reason.to_string(),
        };
        let (exception, rest) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let mut pattern = clean(rest);
        if pattern.len() > 1 && pattern.starts_with('/') {
            pattern.remove(0);
        }
        if exception && (rest.is_empty() || pattern == "/") {
            return Err(err("an exception `!` needs a pattern after it"));
        }
        let matcher = compile(&pattern).map_err(|reason| err(&reason))?;
        rules.push(Rule {
            pattern,
            exception,
            line: i + 1,
            matcher,
        });
    }
    Ok(Dockerignore { rules })
}

/// A path cleaned lexically, as Go's `path.Clean`: no empty or `.`
/// components, `..` folded where it can be, `.` for nothing.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            part => out.push(part),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// How one pattern matches, as Docker decides it: literal patterns compare
/// as strings, a trailing `**` as a prefix, a leading `**` followed only by
/// literal text as a suffix, and anything else through tokens.
#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Tokens(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// This character.
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**` followed by more: nothing, or anything ending in `/`.
    AnyDirs,
    /// A trailing `**`: anything.
    Any,
    /// `[...]` or `[^...]`: one character in (or not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    Exact,
    Prefix,
    Suffix,
    Tokens,
}

fn compile(pattern: &str) -> Result<Matcher, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut detected = Detected::Exact;
    let mut i = 0;
    let mut step = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        toks.push(Tok::Any);
                        detected = Detected::Tokens;
                    }
                } else {
                    toks.push(Tok::AnyDirs);
                    detected = Detected::Tokens;
                }
                if step == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                detected = Detected::Tokens;
            }
            '?' => {
                toks.push(Tok::One);
                detected = Detected::Tokens;
            }
            '\\' => {
                let c = chars
                    .get(i)
                    .ok_or("it ends with a `\\` that escapes nothing")?;
                i += 1;
                toks.push(Tok::Lit(*c));
                detected = Detected::Tokens;
            }
            '[' => {
                let (tok, next) = class(&chars, i)?;
                toks.push(tok);
                i = next;
                detected = Detected::Tokens;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                detected = Detected::Tokens;
            }
            c => toks.push(Tok::Lit(c)),
        }
        step += 1;
    }
    Ok(match detected {
        Detected::Exact => Matcher::Exact(pattern.to_string()),
        Detected::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Matcher::Suffix(pattern[2..].to_string()),
        Detected::Tokens => Matcher::Tokens(toks),
    })
}

/// A character class starting after its `[` at `chars[start]`: the token
/// and the index after its `]`.
fn class(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    // One end of a range: a plain character or `\x`.
    let end = |i: &mut usize| -> Result<char, String> {
        match chars.get(*i) {
            None => Err("a `[` is never closed".to_string()),
            Some('-') | Some(']') => Err(
                "a character class has a `-` or `]` out of place (write `\\-`, `\\]`)".to_string(),
            ),
            Some('\\') => {
                let c = chars.get(*i + 1).ok_or("a `[` is never closed")?;
                *i += 2;
                Ok(*c)
            }
            Some(c) => {
                *i += 1;
                Ok(*c)
            }
        }
    };
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        let lo = end(&mut i)?;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            i += 1;
            hi = end(&mut i)?;
        }
        if lo > hi {
            return Err(format!("the range `{lo}-{hi}` is reversed"));
        }
        ranges.push((lo, hi));
    }
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.starts_with(p.as_str()),
            Matcher::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|s| path == s)
            }
            Matcher::Tokens(toks) => match_tokens(toks, path),
        }
    }

    /// Whether it matches `path` or one of its parent directories. Tokens
    /// walk the path once (matching each parent on its own made a deep
    /// path against a long pattern cubic, found by fuzzing).
    fn matches_or_parent(&self, path: &str) -> bool {
        match self {
            Matcher::Tokens(toks) => {
                let text: Vec<char> = path.chars().collect();
                let reached = reach(toks, &text);
                reached[text.len()]
                    || text
                        .iter()
                        .enumerate()
                        .any(|(p, c)| *c == '/' && reached[p])
            }
            _ => {
                self.matches(path)
                    || path
                        .match_indices('/')
                        .any(|(end, _)| self.matches(&path[..end]))
            }
        }
    }
}

/// Whether the tokens match all of `path`.
fn match_tokens(toks: &[Tok], path: &str) -> bool {
    let text: Vec<char> = path.chars().collect();
    reach(toks, &text)[text.len()]
}

/// A set-of-positions walk, linear in the text for each token: entry `p`
/// tells whether the tokens match `text[..p]` exactly (a position depends
/// only on the characters before it, so one walk answers every prefix).
fn reach(toks: &[Tok], text: &[char]) -> Vec<bool> {
    let n = text.len();
    let mut at = vec![false; n + 1];
    at[0] = true;
    for tok in toks {
        let mut next = vec![false; n + 1];
        match tok {
            Tok::Lit(_) | Tok::One | Tok::Class { .. } => {
                for p in 0..n {
                    if at[p] && single(tok, text[p]) {
                        next[p + 1] = true;
                    }
                }
            }
            // Go's `.` (behind `**`) does not match a newline.
            Tok::Star | Tok::Any => {
                let stop = if matches!(tok, Tok::Star) { '/' } else { '\n' };
                let mut live = false;
                for p in 0..=n {
                    live = at[p] || (live && text[p - 1] != stop);
                    next[p] = live;
                }
            }
            Tok::AnyDirs => {
                let mut live = false;
                for p in 0..=n {
                    if p > 0 {
                        live = live && text[p - 1] != '\n';
                    }
                    next[p] = at[p] || (live && p > 0 && text[p - 1] == '/');
                    live = live || at[p];
                }
            }
        }
        if !next.iter().any(|&b| b) {
            return next;
        }
        at = next;
    }
    at
}

fn single(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => c != '/',
        Tok::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "dockerignore_tests.rs"]
mod tests;
