//! Build packages found without help: the first guesses made before an
//! sdist's first build (the table of well-known packages, then what the
//! sdist's own metadata states), and the rounds of the discovery loop (a
//! failed build's missing files → the packages that ship them → a retry).
//!
//! The loop stops when the build passes, when a round would add nothing new,
//! or after [`MAX_PACKAGE_ROUNDS`] retries.

use serde::{Deserialize, Serialize};

use crate::known::known_package;
use crate::metadata::stated_needs;
use crate::{MissingFile, PackageLookup, SdistError, SdistRequest};

/// The bound of the discovery loop: how many times a failed build is tried
/// again with more build packages. Each retry adds at least one package, so
/// a build that keeps missing new files stops here with an error that lists
/// what was tried.
pub const MAX_PACKAGE_ROUNDS: usize = 6;

/// What made a build package be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddedBy {
    /// lockship's table of well-known packages (`data/build-packages.toml`).
    Table,
    /// The sdist's own `setup.py`, `setup.cfg` or `pyproject.toml`.
    Metadata,
    /// A failed build's log.
    BuildLog,
}

/// A build package added without being named by the user: what it was
/// added for, and the line that asked for it, so the user can pin it in
/// `[tool.lockship] build-packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedPackage {
    /// The Debian package.
    pub package: String,
    /// Where the need was read.
    pub by: AddedBy,
    /// What it ships that was wanted (`header \`libpq-fe.h\``), or the
    /// table's entry (`psycopg2`).
    pub wanted: String,
    /// The line that asked for it: a log line, a line of the sdist's
    /// metadata, or the table's entry.
    pub line: String,
    /// 0: before the first build; then the retry it was added for.
    pub round: usize,
}

impl AddedPackage {
    /// `libpq-dev (program \`pg_config\`: "Error: pg_config executable not found.")`.
    pub fn describe(&self) -> String {
        format!("{} (for {}: {})", self.package, self.wanted, self.line)
    }
}

/// The packages to add before the first build: the table's entry for the
/// project, then the packages that ship what its metadata states. Packages
/// the suite lacks, and those already present, are left out.
pub(crate) fn first_guesses(
    request: &SdistRequest,
    lookup: &dyn PackageLookup,
    present: &[String],
) -> Result<Vec<AddedPackage>, SdistError> {
    let mut out: Vec<AddedPackage> = Vec::new();
    let fresh = |p: &str, out: &[AddedPackage]| {
        !present.iter().any(|q| q == p) && !out.iter().any(|a| a.package == p)
    };
    if let Some(known) = known_package(&request.name) {
        let names: Vec<String> = known.build.iter().flat_map(|a| a.0.clone()).collect();
        let exists = lookup.packages_exist(&names)?;
        for item in &known.build {
            // The first alternative the suite has; none: the loop finds it.
            let pick = item
                .0
                .iter()
                .find(|p| names.iter().zip(&exists).any(|(n, e)| n == *p && *e));
            if let Some(p) = pick {
                if fresh(p, &out) {
                    out.push(AddedPackage {
                        package: p.clone(),
                        by: AddedBy::Table,
                        wanted: format!("`{}`", known.name),
                        line: format!(
                            "`{}` in lockship's table of well-known packages: build = {}",
                            known.name,
                            item.display()
                        ),
                        round: 0,
                    });
                }
            }
        }
    }
    let stated = stated_needs(&request.sdist);
    if !stated.is_empty() {
        let missing: Vec<_> = stated.iter().map(|s| s.missing.clone()).collect();
        let found = lookup.packages_for(&missing)?;
        for (need, packages) in stated.iter().zip(found) {
            // A stated need no package ships may be optional: the build says.
            if let Some(p) = packages.first() {
                if fresh(p, &out) {
                    out.push(AddedPackage {
                        package: p.clone(),
                        by: AddedBy::Metadata,
                        wanted: format!(
                            "{} `{}`",
                            need.missing.kind(),
                            need.missing.display_name()
                        ),
                        line: need.line.clone(),
                        round: 0,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The packages one round adds: for each missing file, the best package
/// that ships it, unless it is there already.
pub(crate) fn next_round(
    missing: &[MissingFile],
    present: &[String],
    round: usize,
) -> Vec<AddedPackage> {
    let mut out: Vec<AddedPackage> = Vec::new();
    for m in missing {
        let Some(p) = m.packages.first() else {
            continue;
        };
        if present.contains(p) || out.iter().any(|a| &a.package == p) {
            continue;
        }
        out.push(AddedPackage {
            package: p.clone(),
            by: AddedBy::BuildLog,
            wanted: format!("{} `{}`", m.kind, m.name),
            line: m.line.clone(),
            round,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, packages: &[&str]) -> MissingFile {
        MissingFile {
            kind: "header",
            name: name.into(),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            line: format!("x.c:1:10: fatal error: {name}: No such file or directory"),
        }
    }

    #[test]
    fn a_round_adds_each_new_package_once_with_its_line() {
        let missing = [
            file("libpq-fe.h", &["libpq-dev"]),
            file("pg_config.h", &["libpq-dev"]),
            file("zlib.h", &["zlib1g-dev"]),
            file("nowhere.h", &[]),
        ];
        let added = next_round(&missing, &["zlib1g-dev".to_string()], 2);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].package, "libpq-dev");
        assert_eq!(added[0].by, AddedBy::BuildLog);
        assert_eq!(added[0].wanted, "header `libpq-fe.h`");
        assert_eq!(
            added[0].line,
            "x.c:1:10: fatal error: libpq-fe.h: No such file or directory"
        );
        assert_eq!(added[0].round, 2);
        assert!(next_round(&missing, &["libpq-dev".into(), "zlib1g-dev".into()], 3).is_empty());
    }

    #[test]
    fn added_packages_serialise_for_json() {
        let a = AddedPackage {
            package: "libpq-dev".into(),
            by: AddedBy::BuildLog,
            wanted: "program `pg_config`".into(),
            line: "Error: pg_config executable not found.".into(),
            round: 1,
        };
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["by"], "build-log");
        assert_eq!(json["line"], "Error: pg_config executable not found.");
    }
}
