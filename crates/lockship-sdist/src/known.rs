//! The table of well-known packages (`data/build-packages.toml`): the Debian
//! packages their sdists need to build, and the ones their wheels need at
//! run time; and the build requirements that name programs a build runs.
//!
//! A first guess that lets the common cases build in one pass; the
//! discovery loop stays the authority.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The table, as shipped in the crate.
pub(crate) const TABLE: &str = include_str!("../data/build-packages.toml");

/// One Debian package of the table: alternatives, the first one that the
/// suite has wins (`libcurl4t64 | libcurl4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternatives(pub Vec<String>);

impl Alternatives {
    fn parse(item: &str) -> Alternatives {
        Alternatives(
            item.split('|')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    /// The item as written in the table.
    pub fn display(&self) -> String {
        self.0.join(" | ")
    }
}

/// A well-known package's Debian needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPackage {
    /// The project's normalised name (`python-ldap`).
    pub name: String,
    /// What its sdist's build needs.
    pub build: Vec<Alternatives>,
    /// What its wheel loads at run time (found by libdeps; documented here
    /// so the tests keep the names true).
    pub run: Vec<Alternatives>,
}

/// A build requirement (PEP 518) that runs programs from the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRequirement {
    /// The requirement's normalised name (`pkgconfig`).
    pub name: String,
    /// Programs the build then runs (`pkg-config`).
    pub programs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    packages: BTreeMap<String, RawPackage>,
    #[serde(rename = "build-requirements")]
    build_requirements: BTreeMap<String, RawRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    build: Vec<String>,
    #[serde(default)]
    run: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    programs: Vec<String>,
}

struct Table {
    packages: Vec<KnownPackage>,
    requirements: Vec<KnownRequirement>,
}

fn table() -> &'static Table {
    static PARSED: OnceLock<Table> = OnceLock::new();
    PARSED.get_or_init(|| {
        // The file is part of the crate; a unit test parses it, so this
        // cannot fail in a released build.
        let raw: RawTable = toml::from_str(TABLE).expect("data/build-packages.toml parses");
        Table {
            packages: raw
                .packages
                .into_iter()
                .map(|(name, p)| KnownPackage {
                    name,
                    build: p.build.iter().map(|s| Alternatives::parse(s)).collect(),
                    run: p.run.iter().map(|s| Alternatives::parse(s)).collect(),
                })
                .collect(),
            requirements: raw
                .build_requirements
                .into_iter()
                .map(|(name, r)| KnownRequirement {
                    name,
                    programs: r.programs,
                })
                .collect(),
        }
    })
}

/// Every well-known package of the table.
pub fn known_packages() -> &'static [KnownPackage] {
    &table().packages
}

/// Every build requirement of the table.
pub fn known_requirements() -> &'static [KnownRequirement] {
    &table().requirements
}

/// The table's entry for a project, by any spelling of its name.
pub fn known_package(name: &str) -> Option<&'static KnownPackage> {
    let name = normalize(name);
    known_packages().iter().find(|p| p.name == name)
}

/// The table's entry for a build requirement, by any spelling of its name.
pub fn known_requirement(name: &str) -> Option<&'static KnownRequirement> {
    let name = normalize(name);
    known_requirements().iter().find(|r| r.name == name)
}

/// PEP 503: lower case, runs of `-`, `_` and `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_the_common_cases() {
        assert!(known_packages().len() >= 10);
        let pg = known_package("psycopg2").unwrap();
        assert_eq!(pg.build, vec![Alternatives(vec!["libpq-dev".into()])]);
        assert_eq!(pg.run, vec![Alternatives(vec!["libpq5".into()])]);
        let ldap = known_package("Python_LDAP").unwrap();
        assert_eq!(ldap.name, "python-ldap");
        assert_eq!(
            ldap.run[0].0,
            vec!["libldap2".to_string(), "libldap-2.5-0".to_string()]
        );
        assert!(known_package("requests").is_none());
        assert_eq!(
            known_requirement("PkgConfig").unwrap().programs,
            ["pkg-config"]
        );
        for p in known_packages() {
            assert_eq!(p.name, normalize(&p.name), "{} is normalised", p.name);
            assert!(!p.build.is_empty(), "{} builds with something", p.name);
            for item in p.build.iter().chain(&p.run) {
                assert!(!item.0.is_empty(), "{}: an empty item", p.name);
            }
        }
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize("mysqlclient"), "mysqlclient");
    }
}
