//! Reading a failed build's log: which header, library or program was
//! missing, and whether the build tried to write outside its directory.

/// Something a failed build looked for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    /// `#include <name>` failed (`libpq-fe.h`, `libxml/parser.h`).
    Header(String),
    /// The linker's `-l<name>` failed (`pq`).
    LinkerLib(String),
    /// A program was not found (`pg_config`).
    Program(String),
    /// A pkg-config module was not found (`libpcre2-8`).
    PkgConfig(String),
}

impl Missing {
    /// The kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Missing::Header(_) => "header",
            Missing::LinkerLib(_) => "library",
            Missing::Program(_) => "program",
            Missing::PkgConfig(_) => "pkg-config module",
        }
    }

    /// The name as the build printed it.
    pub fn display_name(&self) -> String {
        match self {
            Missing::Header(n) | Missing::Program(n) | Missing::PkgConfig(n) => n.clone(),
            Missing::LinkerLib(n) => format!("-l{n}"),
        }
    }
}

/// What a log says went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Files looked for and not found, in order of first mention.
    pub missing: Vec<Missing>,
    /// For each of `missing`, the log line that first named it (trimmed).
    pub lines: Vec<String>,
    /// A path outside the build directory the build tried to write.
    pub escape: Option<String>,
}

/// Reads a build log.
pub fn diagnose(log: &str) -> Diagnosis {
    let mut out = Diagnosis::default();
    for line in log.lines() {
        let line = line.trim();
        let push = |m: Missing, out: &mut Diagnosis| {
            if !out.missing.contains(&m) {
                out.missing.push(m);
                out.lines.push(line.to_string());
            }
        };
        // gcc: `foo.c:1:10: fatal error: libpq-fe.h: No such file or directory`
        if let Some(rest) = after(line, "fatal error: ") {
            if let Some((name, _)) = rest.split_once(": No such file or directory") {
                push(Missing::Header(name.trim().to_string()), &mut out);
            }
        }
        // ld: `/usr/bin/ld: cannot find -lpq: No such file or directory`
        if let Some(rest) = after(line, "cannot find -l") {
            let name: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ':')
                .collect();
            if !name.is_empty() {
                push(Missing::LinkerLib(name), &mut out);
            }
        }
        // psycopg2: `Error: pg_config executable not found.`
        if let Some((before, _)) = line.split_once(" executable not found") {
            if let Some(name) = before.split_whitespace().last() {
                push(Missing::Program(name.to_string()), &mut out);
            }
        }
        // sh: `sh: 1: xml2-config: not found`, bash: `foo: command not found`
        for marker in [": not found", ": command not found"] {
            if let Some((before, _)) = line.split_once(marker) {
                if let Some(name) = before.rsplit(": ").next() {
                    let name = name.trim();
                    if !name.is_empty() && !name.contains(' ') {
                        push(Missing::Program(name.to_string()), &mut out);
                    }
                }
            }
        }
        // pkg-config: `Package libpcre2-8 was not found in the pkg-config search path.`
        if let Some(rest) = after(line, "Package ") {
            if let Some((name, _)) = rest.split_once(" was not found in the pkg-config search path")
            {
                push(Missing::PkgConfig(name.trim().to_string()), &mut out);
            }
        }
        // Python: `OSError: [Errno 30] Read-only file system: '/usr/lib/x'`
        for marker in ["Read-only file system: '", "Permission denied: '"] {
            if out.escape.is_none() {
                if let Some(rest) = after(line, marker) {
                    if let Some((path, _)) = rest.split_once('\'') {
                        if !path.starts_with("/build") && !path.starts_with("/tmp") {
                            out.escape = Some(path.to_string());
                        }
                    }
                }
            }
        }
    }
    out
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gcc_ld_and_program_failures() {
        let log = "\
building 'psycopg2._psycopg' extension
psycopg/psycopgmodule.c:28:10: fatal error: libpq-fe.h: No such file or directory
   28 | #include <libpq-fe.h>
/usr/bin/ld: cannot find -lpq: No such file or directory
Error: pg_config executable not found.
sh: 1: xml2-config: not found
Package libpcre2-8 was not found in the pkg-config search path.
src/x.c:3:10: fatal error: libxml/parser.h: No such file or directory
";
        let d = diagnose(log);
        assert_eq!(
            d.missing,
            vec![
                Missing::Header("libpq-fe.h".into()),
                Missing::LinkerLib("pq".into()),
                Missing::Program("pg_config".into()),
                Missing::Program("xml2-config".into()),
                Missing::PkgConfig("libpcre2-8".into()),
                Missing::Header("libxml/parser.h".into()),
            ]
        );
        assert_eq!(d.escape, None);
        assert_eq!(d.lines.len(), d.missing.len());
        assert_eq!(
            d.lines[0],
            "psycopg/psycopgmodule.c:28:10: fatal error: libpq-fe.h: No such file or directory"
        );
        assert_eq!(d.lines[2], "Error: pg_config executable not found.");
    }

    #[test]
    fn reads_a_write_outside_the_build_directory() {
        let log = "OSError: [Errno 30] Read-only file system: '/usr/lib/evil.pth'\n";
        assert_eq!(diagnose(log).escape.as_deref(), Some("/usr/lib/evil.pth"));
        let inside = "OSError: [Errno 30] Read-only file system: '/build/src/x'\n";
        assert_eq!(diagnose(inside).escape, None);
    }

    #[test]
    fn a_clean_log_has_nothing() {
        assert_eq!(diagnose("Successfully built foo\n"), Diagnosis::default());
    }
}
