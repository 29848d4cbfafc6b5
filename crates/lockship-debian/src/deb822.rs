//! A zero-copy parser for Debian control-format ("deb822") text: stanzas of
//! `Field: value` lines separated by blank lines, with continuation lines
//! that start with a space or a tab.
//!
//! Hand-written because it is small, and because the Packages index of a
//! full suite is tens of megabytes: fields are slices of the input.

use crate::DebianError;

/// One field: its name and its raw value (continuation lines included, with
/// their newlines and indentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// One stanza (paragraph).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stanza<'a> {
    /// The 1-based line number of the stanza's first field.
    pub line: usize,
    pub fields: Vec<Field<'a>>,
}

impl<'a> Stanza<'a> {
    /// The raw value of a field (names are case-insensitive), if present.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value)
    }

    /// The value of a single-line field, trimmed.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.raw(name).map(str::trim)
    }

    /// The value's lines (first line and continuation lines), trimmed, empty
    /// ones dropped.
    pub fn lines(&self, name: &str) -> impl Iterator<Item = &'a str> {
        self.raw(name)
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }
}

/// Parses `text` into stanzas. Lines starting with `#` are comments.
/// `origin` names the text in errors.
pub(crate) fn parse<'a>(text: &'a str, origin: &str) -> Result<Vec<Stanza<'a>>, DebianError> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    // The field being built: name, value start offset, value end offset.
    let mut open: Option<(&'a str, usize, usize)> = None;
    let mut offset = 0;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        let line_no = index + 1;
        if line.trim().is_empty() {
            close(&mut current, &mut open, text);
            if !current.fields.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match open.as_mut() {
                Some((_, _, end)) => *end = line_start + line.len(),
                None => {
                    return Err(DebianError::Parse {
                        origin: origin.to_string(),
                        line: line_no,
                        reason: "a continuation line does not follow a field".to_string(),
                    })
                }
            }
            continue;
        }
        close(&mut current, &mut open, text);
        let Some(colon) = line.find(':') else {
            return Err(DebianError::Parse {
                origin: origin.to_string(),
                line: line_no,
                reason: format!("expected `Field: value`, found `{}`", truncate(line)),
            });
        };
        let name = &line[..colon];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(DebianError::Parse {
                origin: origin.to_string(),
                line: line_no,
                reason: format!("invalid field name `{}`", truncate(name)),
            });
        }
        if current.fields.is_empty() {
            current.line = line_no;
        }
        let value_start = line_start + colon + 1;
        open = Some((
            &text[line_start..line_start + colon],
            value_start,
            line_start + line.len(),
        ));
    }
    close(&mut current, &mut open, text);
    if !current.fields.is_empty() {
        stanzas.push(current);
    }
    Ok(stanzas)
}

fn close<'a>(stanza: &mut Stanza<'a>, open: &mut Option<(&'a str, usize, usize)>, text: &'a str) {
    if let Some((name, start, end)) = open.take() {
        stanza.fields.push(Field {
            name,
            value: &text[start..end],
        });
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_continuations_and_comments() {
        let text = "Package: a\r\nDescription: short\n long line\n .\n more\nVersion: 1\n\n\n# comment\nPackage: b\nDepends: x,\n\ty\n";
        let stanzas = parse(text, "test").unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].line, 1);
        assert_eq!(stanzas[0].get("package"), Some("a"));
        assert_eq!(stanzas[0].get("VERSION"), Some("1"));
        assert_eq!(
            stanzas[0].lines("Description").collect::<Vec<_>>(),
            vec!["short", "long line", ".", "more"]
        );
        assert_eq!(stanzas[1].line, 10);
        assert_eq!(stanzas[1].raw("Depends"), Some(" x,\n\ty"));
        assert_eq!(stanzas[1].get("Missing"), None);
    }

    #[test]
    fn reports_line_numbers_of_errors() {
        let err = parse("Package: a\nno colon here\n", "idx").unwrap_err();
        match err {
            DebianError::Parse { origin, line, .. } => {
                assert_eq!(origin, "idx");
                assert_eq!(line, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = parse(" leading continuation\n", "idx").unwrap_err();
        assert!(matches!(err, DebianError::Parse { line: 1, .. }));
    }

    #[test]
    fn whitespace_only_lines_separate_stanzas() {
        let stanzas = parse("A: 1\n  \t\nA: 2\n", "t").unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[1].get("A"), Some("2"));
    }
}
