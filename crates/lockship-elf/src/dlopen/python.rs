//! A static scan of Python source text for the libraries it loads with
//! `ctypes` and `cffi`, without running anything.
//!
//! A small tokenizer (comments, string literals with their prefixes and
//! triple quotes, names, brackets, indentation) feeds a few patterns:
//! a load call (`find_library`, `CDLL`, `PyDLL`, `LoadLibrary`, `.dlopen`)
//! whose first argument is a string, a conditional of strings, a name
//! assigned strings in the same file (also as a `for` loop's variable over a
//! tuple or list), or a call of a function of the same file that itself
//! loads (a wrapper such as WeasyPrint's `_dlopen(ffi, *names)`), plus any
//! `lib*.so*` string in a file that loads something.

use std::collections::{BTreeMap, BTreeSet};

use super::{is_linux_name, looks_like_soname, LoadCall};

/// One load found in one file, before paths are attached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FileLoad {
    pub line: u32,
    pub group: u32,
    pub name: String,
    pub call: LoadCall,
    /// The code goes on without it (`_dlopen(..., allow_fail=True)`).
    pub optional: bool,
}

/// The words that make a file worth tokenizing.
const TRIGGERS: &[&str] = &["find_library", "CDLL", "LoadLibrary", "dlopen", "dll."];

/// Whether a file's bytes contain a word that loads a library (most files
/// do not, and are not tokenized).
pub(crate) fn may_load(bytes: &[u8]) -> bool {
    TRIGGERS
        .iter()
        .any(|t| memchr::memmem::find(bytes, t.as_bytes()).is_some())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    /// A string literal's text; `None` when it cannot be a plain name
    /// (an f-string with fields, bytes with escapes).
    Str(Option<String>),
    Op(char),
    /// `==`, `!=`, `<=`, `>=`, `->`, `:=` and augmented assignments, by
    /// their first character.
    Op2(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: u32,
    /// Column of the first token of a logical line, `None` for the others.
    indent: Option<u32>,
    /// Bracket depth before the token.
    depth: u32,
}

fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut col, mut depth) = (0usize, 1u32, 0u32, 0u32);
    let mut at_line_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                col = 0;
                i += 1;
                if depth == 0 {
                    at_line_start = true;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => {
                col += if c == b'\t' { 8 - col % 8 } else { 1 };
                i += 1;
                continue;
            }
            b'\\' => {
                // A line continuation.
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let indent = (at_line_start && depth == 0).then_some(col);
        at_line_start = false;
        let start_line = line;
        let start = i;
        let tok = if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            let word = &src[start..i];
            if i < bytes.len()
                && (bytes[i] == b'\'' || bytes[i] == b'"')
                && word.len() <= 2
                && word.bytes().all(|b| b"rRbBuUfF".contains(&b))
            {
                let (text, end, lines) = string_literal(bytes, i, word);
                i = end;
                line += lines;
                Tok::Str(text)
            } else {
                Tok::Name(word.to_string())
            }
        } else if c == b'\'' || c == b'"' {
            let (text, end, lines) = string_literal(bytes, i, "");
            i = end;
            line += lines;
            Tok::Str(text)
        } else {
            i += 1;
            match c {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    Tok::Op(c as char)
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    Tok::Op(c as char)
                }
                b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b':' | b'|'
                | b'&' | b'^' | b'@'
                    if bytes.get(i) == Some(&b'=')
                        || (c == b'-' && bytes.get(i) == Some(&b'>')) =>
                {
                    i += 1;
                    Tok::Op2(c as char)
                }
                _ if c.is_ascii() => Tok::Op(c as char),
                _ => Tok::Op('?'),
            }
        };
        col += (i - start) as u32;
        let token_depth = match tok {
            Tok::Op('(' | '[' | '{') => depth - 1,
            _ => depth,
        };
        out.push(Token {
            tok,
            line: start_line,
            indent,
            depth: token_depth,
        });
    }
    out
}

/// Reads a string literal starting at the quote `bytes[start]`; returns its
/// text (when it is a plain name), the index after it and the newlines in it.
fn string_literal(bytes: &[u8], start: usize, prefix: &str) -> (Option<String>, usize, u32) {
    let quote = bytes[start];
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let open = if triple { 3 } else { 1 };
    let mut i = start + open;
    let mut lines = 0;
    let mut escaped = false;
    let body_start = i;
    let body_end;
    loop {
        let Some(&b) = bytes.get(i) else {
            body_end = i;
            break;
        };
        if b == b'\\' {
            escaped = true;
            i += 2;
            continue;
        }
        if b == b'\n' {
            lines += 1;
            if !triple {
                // An unterminated single-quoted string ends at the line.
                body_end = i;
                break;
            }
        }
        if b == quote
            && (!triple || (bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote)))
        {
            body_end = i;
            i += open;
            break;
        }
        i += 1;
    }
    let i = i.min(bytes.len());
    let body = bytes
        .get(body_start..body_end.min(bytes.len()))
        .unwrap_or(&[]);
    let fstring = prefix.contains(['f', 'F']);
    let text = if escaped || (fstring && body.contains(&b'{')) || body.len() > 4096 {
        None
    } else {
        std::str::from_utf8(body).ok().map(str::to_string)
    };
    (text, i, lines)
}

/// The index of the bracket closing the one at `open`, or the end.
fn matching(tokens: &[Token], open: usize) -> usize {
    let depth = tokens[open].depth;
    tokens[open + 1..]
        .iter()
        .position(|t| t.depth == depth && matches!(t.tok, Tok::Op(')' | ']' | '}')))
        .map_or(tokens.len(), |p| open + 1 + p)
}

/// The functions a call name maps to, and the load kind.
fn load_call(tokens: &[Token], i: usize) -> Option<LoadCall> {
    let Tok::Name(name) = &tokens[i].tok else {
        return None;
    };
    if tokens.get(i + 1).map(|t| &t.tok) != Some(&Tok::Op('(')) {
        return None;
    }
    let after_dot = i >= 1 && tokens[i - 1].tok == Tok::Op('.');
    let owner = match (after_dot, i.checked_sub(2).map(|j| &tokens[j].tok)) {
        (true, Some(Tok::Name(owner))) => Some(owner.as_str()),
        _ => None,
    };
    if i >= 1 && tokens[i - 1].tok == Tok::Name("def".into()) {
        return None;
    }
    match name.as_str() {
        "find_library" => Some(LoadCall::FindLibrary),
        "CDLL" | "PyDLL" => Some(LoadCall::Ctypes),
        "LoadLibrary" if matches!(owner, Some("cdll" | "pydll")) => Some(LoadCall::Ctypes),
        "dlopen" if after_dot => Some(LoadCall::CffiDlopen),
        _ => None,
    }
}

/// The strings at expression level in `tokens[from..to]` (not inside a
/// call's arguments), with names resolved through `vars`.
fn strings_in(
    tokens: &[Token],
    from: usize,
    to: usize,
    vars: &BTreeMap<String, Vec<(usize, usize)>>,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<(String, Option<LoadCall>)>,
) {
    let mut i = from;
    while i < to {
        match &tokens[i].tok {
            Tok::Name(_) if tokens.get(i + 1).map(|t| &t.tok) == Some(&Tok::Op('(')) => {
                let close = matching(tokens, i + 1);
                // `x = find_library("pq")` then `CDLL(x)`: the
                // find_library name is an alternative of the outer load.
                if load_call(tokens, i) == Some(LoadCall::FindLibrary)
                    && seen.len() < 16
                    && seen.insert(format!("\0call{i}"))
                {
                    let mut inner = Vec::new();
                    strings_in(tokens, i + 2, close.min(to), vars, seen, &mut inner);
                    for (name, _) in inner {
                        if !out.iter().any(|(n, _)| *n == name) {
                            out.push((name, Some(LoadCall::FindLibrary)));
                        }
                    }
                }
                i = close + 1;
                continue;
            }
            Tok::Name(n) => {
                let attribute = i >= 1 && tokens[i - 1].tok == Tok::Op('.');
                let followed = tokens.get(i + 1).map(|t| &t.tok) == Some(&Tok::Op('.'));
                // Each name is followed once per call site, so `a = a` and
                // long chains cannot loop or blow up.
                if !attribute && !followed && seen.len() < 16 && seen.insert(n.clone()) {
                    for &(a, b) in vars.get(n).into_iter().flatten() {
                        strings_in(tokens, a, b, vars, seen, out);
                    }
                }
            }
            Tok::Str(Some(s)) => {
                // A string followed by `%` or `.format` is a template.
                let template = matches!(
                    tokens.get(i + 1).map(|t| &t.tok),
                    Some(Tok::Op('%' | '.' | '+'))
                ) || (i >= 1 && tokens[i - 1].tok == Tok::Op('+'));
                if !template && !out.iter().any(|(n, _)| n == s) {
                    out.push((s.clone(), None));
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The end of the logical line that starts at or before `i`.
fn line_end(tokens: &[Token], i: usize) -> usize {
    tokens[i + 1..]
        .iter()
        .position(|t| t.indent.is_some() || (t.depth == 0 && t.tok == Tok::Op(';')))
        .map_or(tokens.len(), |p| i + 1 + p)
}

/// `name = expr` (also `a = b = expr`) and `for name in expr:`: name →
/// token ranges of the expressions.
fn assignments(tokens: &[Token]) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut vars: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for i in 0..tokens.len() {
        let Tok::Name(name) = &tokens[i].tok else {
            continue;
        };
        if tokens[i].depth != 0 && tokens.get(i + 1).map(|t| &t.tok) != Some(&Tok::Op2(':')) {
            continue;
        }
        let next = tokens.get(i + 1).map(|t| &t.tok);
        let prev = i.checked_sub(1).map(|j| &tokens[j].tok);
        let walrus = next == Some(&Tok::Op2(':'));
        if (next == Some(&Tok::Op('=')) || walrus) && prev != Some(&Tok::Op('.')) {
            let end = line_end(tokens, i);
            vars.entry(name.clone()).or_default().push((i + 2, end));
        } else if name == "for" {
            let (Some(Tok::Name(var)), Some(Tok::Name(kw))) = (
                tokens.get(i + 1).map(|t| &t.tok),
                tokens.get(i + 2).map(|t| &t.tok),
            ) else {
                continue;
            };
            if kw != "in" {
                continue;
            }
            let end = tokens[i + 3..]
                .iter()
                .position(|t| t.depth == tokens[i].depth && t.tok == Tok::Op(':'))
                .map_or(tokens.len(), |p| i + 3 + p);
            vars.entry(var.clone()).or_default().push((i + 3, end));
        }
    }
    vars
}

/// The token range of each `def`'s body, by name.
fn functions(tokens: &[Token]) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut defs: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for i in 0..tokens.len() {
        if tokens[i].tok != Tok::Name("def".into()) {
            continue;
        }
        let Some(Tok::Name(name)) = tokens.get(i + 1).map(|t| &t.tok) else {
            continue;
        };
        let indent = tokens[i]
            .indent
            .or_else(|| {
                // `async def`
                i.checked_sub(1).and_then(|j| tokens[j].indent)
            })
            .unwrap_or(0);
        let end = tokens[i + 1..]
            .iter()
            .position(|t| t.indent.is_some_and(|c| c <= indent))
            .map_or(tokens.len(), |p| i + 1 + p);
        defs.entry(name.clone()).or_default().push((i, end));
    }
    defs
}

/// Whether `dlopen` could open this name on Linux: a file name
/// (`libc.so.6`) or a path; a bare word (`Security`) only through
/// `find_library` or cffi.
fn loadable_as(name: &str, call: LoadCall) -> bool {
    match call {
        LoadCall::Ctypes | LoadCall::Literal => name.contains(".so") || name.starts_with('/'),
        _ => true,
    }
}

/// Whether a function, module or directory name says it is for Windows or
/// macOS only.
pub(crate) fn is_foreign_platform(name: &str) -> bool {
    name.to_ascii_lowercase().split('_').any(|w| {
        matches!(
            w,
            "win"
                | "windows"
                | "win32"
                | "nt"
                | "cygwin"
                | "darwin"
                | "mac"
                | "macos"
                | "osx"
                | "securetransport"
        )
    })
}

/// The bodies of `if`/`elif` blocks whose condition tests for Windows or
/// macOS (`sys.platform == "win32"`, `os.name == 'nt'`, `if _is_mac:`).
fn platform_blocks(tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    for i in 0..tokens.len() {
        let (Tok::Name(word), Some(indent)) = (&tokens[i].tok, tokens[i].indent) else {
            continue;
        };
        if word != "if" && word != "elif" {
            continue;
        }
        let Some(colon) = tokens[i + 1..]
            .iter()
            .position(|t| t.depth == tokens[i].depth && t.tok == Tok::Op(':'))
            .map(|p| i + 1 + p)
        else {
            continue;
        };
        let condition = &tokens[i + 1..colon];
        let mut foreign = false;
        for t in condition {
            match &t.tok {
                Tok::Str(Some(s)) => {
                    let s = s.to_ascii_lowercase();
                    if s.contains("linux") {
                        foreign = false;
                        break;
                    }
                    foreign |= matches!(
                        s.as_str(),
                        "win32" | "win" | "cygwin" | "msys" | "nt" | "windows" | "darwin"
                    );
                }
                Tok::Name(n) if n == "not" || n == "linux" => {
                    foreign = false;
                    break;
                }
                Tok::Name(n) => {
                    let n = n.to_ascii_lowercase();
                    foreign |= ["windows", "win32", "darwin", "is_mac", "is_win", "macos"]
                        .iter()
                        .any(|w| n.contains(w));
                }
                Tok::Op2('!') => {
                    foreign = false;
                    break;
                }
                _ => {}
            }
        }
        if foreign {
            let end = tokens[colon + 1..]
                .iter()
                .position(|t| t.indent.is_some_and(|c| c <= indent))
                .map_or(tokens.len(), |p| colon + 1 + p);
            blocks.push((colon + 1, end));
        }
    }
    blocks
}

/// Wrappers: functions of this file whose body loads, with the call kind
/// inside (which decides how their callers' names are loaded) and whether
/// they also call `find_library`.
fn wrappers<'a>(
    tokens: &[Token],
    defs: &'a BTreeMap<String, Vec<(usize, usize)>>,
) -> BTreeMap<&'a str, (LoadCall, bool)> {
    let mut wrappers = BTreeMap::new();
    for (name, bodies) in defs {
        for &(a, b) in bodies {
            let kinds: Vec<LoadCall> = (a..b).filter_map(|i| load_call(tokens, i)).collect();
            let kind = if kinds.contains(&LoadCall::CffiDlopen) {
                Some(LoadCall::CffiDlopen)
            } else if kinds.contains(&LoadCall::Ctypes) {
                Some(LoadCall::Ctypes)
            } else {
                kinds.first().copied()
            };
            if let Some(kind) = kind {
                let finds = kinds.contains(&LoadCall::FindLibrary);
                wrappers.insert(name.as_str(), (kind, finds));
            }
        }
    }
    wrappers
}

/// Adds every `lib*.so*` string not already loaded, each its own group
/// after `group`.
fn add_literals(tokens: &[Token], loads: &mut BTreeSet<FileLoad>, mut group: u32) {
    let mut used: BTreeSet<String> = loads.iter().map(|l| l.name.clone()).collect();
    for t in tokens {
        if let Tok::Str(Some(s)) = &t.tok {
            if looks_like_soname(s) && is_linux_name(s) && used.insert(s.clone()) {
                group += 1;
                loads.insert(FileLoad {
                    line: t.line,
                    group,
                    name: s.clone(),
                    call: LoadCall::Literal,
                    optional: false,
                });
            }
        }
    }
}

/// Which tokens lie where loads are not Linux's: inside functions named for
/// another platform (`_lib_candidates_windows`, `_load_darwin`) or in
/// blocks guarded for another platform.
fn foreign_tokens(tokens: &[Token], defs: &BTreeMap<String, Vec<(usize, usize)>>) -> Vec<bool> {
    let mut foreign = vec![false; tokens.len()];
    let ranges = defs
        .iter()
        .filter(|(name, _)| is_foreign_platform(name))
        .flat_map(|(_, bodies)| bodies.iter().copied())
        .chain(platform_blocks(tokens));
    for (a, b) in ranges {
        foreign[a..b].iter_mut().for_each(|f| *f = true);
    }
    foreign
}

/// Whether the call arguments `tokens[from..close]` pass `allow_fail=True`.
fn passes_allow_fail(tokens: &[Token], from: usize, close: usize) -> bool {
    (from..close.saturating_sub(2)).any(|k| {
        tokens[k].tok == Tok::Name("allow_fail".into())
            && tokens[k + 1].tok == Tok::Op('=')
            && tokens[k + 2].tok == Tok::Name("True".into())
    })
}

/// Scans one file's text.
pub(crate) fn scan_source(src: &str) -> Vec<FileLoad> {
    if !may_load(src.as_bytes()) {
        return Vec::new();
    }
    let tokens = tokenize(src);
    let vars = assignments(&tokens);
    let defs = functions(&tokens);
    let mut loads = BTreeSet::new();
    let mut group = 0u32;
    let mut any_load = false;
    let wrappers = wrappers(&tokens, &defs);
    // Token index of each direct load call → its group; the find_library
    // calls whose result another load takes.
    let mut origin: BTreeMap<usize, u32> = BTreeMap::new();
    let mut consumed: BTreeSet<usize> = BTreeSet::new();
    let mut optional: BTreeSet<u32> = BTreeSet::new();
    let mut add =
        |names: Vec<(String, Option<LoadCall>)>, line: u32, call: LoadCall, group: &mut u32| {
            let names: Vec<(String, LoadCall)> = names
                .into_iter()
                .map(|(n, kind)| (n, kind.unwrap_or(call)))
                .filter(|(n, kind)| is_linux_name(n) && loadable_as(n, *kind))
                .collect();
            if names.is_empty() {
                return None;
            }
            *group += 1;
            for (name, call) in names {
                loads.insert(FileLoad {
                    line,
                    group: *group,
                    name,
                    call,
                    optional: false,
                });
            }
            Some(*group)
        };
    let foreign = foreign_tokens(&tokens, &defs);
    for i in 0..tokens.len() {
        if foreign[i] {
            any_load |= load_call(&tokens, i).is_some();
            continue;
        }
        if let Some(call) = load_call(&tokens, i) {
            any_load = true;
            let open = i + 1;
            let close = matching(&tokens, open);
            let depth = tokens[open].depth + 1;
            let first_end = tokens[open + 1..close]
                .iter()
                .position(|t| t.depth == depth && t.tok == Tok::Op(','))
                .map_or(close, |p| open + 1 + p);
            let mut names = Vec::new();
            let mut seen = BTreeSet::new();
            strings_in(&tokens, open + 1, first_end, &vars, &mut seen, &mut names);
            // A find_library call whose result this load takes is one of
            // its alternatives, not a load of its own.
            consumed.extend(
                seen.iter()
                    .filter_map(|s| s.strip_prefix("\0call"))
                    .filter_map(|n| n.parse::<usize>().ok()),
            );
            if let Some(g) = add(names, tokens[i].line, call, &mut group) {
                origin.insert(i, g);
            }
            continue;
        }
        // `cdll.name` / `pydll.name` attribute loads.
        if let Tok::Name(owner) = &tokens[i].tok {
            if (owner == "cdll" || owner == "pydll")
                && tokens.get(i + 1).map(|t| &t.tok) == Some(&Tok::Op('.'))
            {
                if let Some(Tok::Name(attr)) = tokens.get(i + 2).map(|t| &t.tok) {
                    if attr != "LoadLibrary" && !attr.starts_with('_') {
                        any_load = true;
                        add(
                            vec![(attr.clone(), None)],
                            tokens[i].line,
                            LoadCall::CdllAttribute,
                            &mut group,
                        );
                    }
                }
            }
        }
        // A call of a loading wrapper defined in this file.
        if let Tok::Name(name) = &tokens[i].tok {
            let is_call = tokens.get(i + 1).map(|t| &t.tok) == Some(&Tok::Op('('));
            let is_def = i >= 1 && tokens[i - 1].tok == Tok::Name("def".into());
            let attribute = i >= 1 && tokens[i - 1].tok == Tok::Op('.');
            if let (true, false, false, Some(&(call, finds))) =
                (is_call, is_def, attribute, wrappers.get(name.as_str()))
            {
                let close = matching(&tokens, i + 1);
                let mut names = Vec::new();
                strings_in(
                    &tokens,
                    i + 2,
                    close,
                    &vars,
                    &mut BTreeSet::new(),
                    &mut names,
                );
                // A ctypes wrapper that also calls find_library passes it
                // the bare names (pip's `load_cdll("Security", path)`).
                if finds && call == LoadCall::Ctypes {
                    for (name, kind) in &mut names {
                        if kind.is_none() && !name.contains(['.', '/']) {
                            *kind = Some(LoadCall::FindLibrary);
                        }
                    }
                }
                let allow_fail = passes_allow_fail(&tokens, i + 2, close);
                if let Some(g) = add(names, tokens[i].line, call, &mut group) {
                    if allow_fail {
                        optional.insert(g);
                    }
                }
            }
        }
    }
    let dropped: BTreeSet<u32> = consumed
        .iter()
        .filter_map(|i| origin.get(i).copied())
        .collect();
    loads.retain(|l| !dropped.contains(&l.group));
    if any_load {
        add_literals(&tokens, &mut loads, group);
    }
    loads
        .into_iter()
        .map(|mut l| {
            l.optional = optional.contains(&l.group);
            l
        })
        .collect()
}

#[cfg(test)]
#[path = "python_tests.rs"]
mod tests;
