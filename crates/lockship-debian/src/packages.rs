//! Packages indexes: binary package stanzas, dependency relations, and an
//! index by name and by provided virtual name.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::deb822::{self, Stanza};
use crate::{compare_versions, DebianError};

/// A version relation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionOp {
    /// `<<`: strictly earlier.
    Lt,
    /// `<=` (also the obsolete `<`): earlier or equal.
    Le,
    /// `=`: exactly equal.
    Eq,
    /// `>=` (also the obsolete `>`): later or equal.
    Ge,
    /// `>>`: strictly later.
    Gt,
}

impl VersionOp {
    /// Whether `version` satisfies `version OP wanted`.
    pub fn matches(self, version: &str, wanted: &str) -> bool {
        let ord = compare_versions(version, wanted);
        match self {
            VersionOp::Lt => ord == Ordering::Less,
            VersionOp::Le => ord != Ordering::Greater,
            VersionOp::Eq => ord == Ordering::Equal,
            VersionOp::Ge => ord != Ordering::Less,
            VersionOp::Gt => ord == Ordering::Greater,
        }
    }

    fn parse(s: &str) -> Option<VersionOp> {
        Some(match s {
            "<<" => VersionOp::Lt,
            "<=" | "<" => VersionOp::Le,
            "=" => VersionOp::Eq,
            ">=" | ">" => VersionOp::Ge,
            ">>" => VersionOp::Gt,
            _ => return None,
        })
    }
}

impl fmt::Display for VersionOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionOp::Lt => "<<",
            VersionOp::Le => "<=",
            VersionOp::Eq => "=",
            VersionOp::Ge => ">=",
            VersionOp::Gt => ">>",
        })
    }
}

/// One package relation, e.g. `libc6:any (>= 2.34)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    /// The package (or virtual package) name.
    pub name: String,
    /// The architecture qualifier after `:` (`any`, `native`, `amd64`), if any.
    pub arch_qualifier: Option<String>,
    /// The version restriction, if any.
    pub version: Option<(VersionOp, String)>,
}

impl Relation {
    /// Whether a package (or provided name) at `version` satisfies this
    /// relation's version restriction. A versioned relation is never
    /// satisfied by an unversioned provide (`version` = `None`).
    pub fn version_matches(&self, version: Option<&str>) -> bool {
        match (&self.version, version) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((op, wanted)), Some(v)) => op.matches(v, wanted),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch_qualifier {
            write!(f, ":{arch}")?;
        }
        if let Some((op, v)) = &self.version {
            write!(f, " ({op} {v})")?;
        }
        Ok(())
    }
}

/// One binary package from a Packages index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `all`, …).
    pub architecture: String,
    /// `Multi-Arch` (`same`, `foreign`, `allowed`), if any.
    pub multi_arch: Option<String>,
    /// `Depends`: a conjunction of disjunctions (`a | b, c`).
    pub depends: Vec<Vec<Relation>>,
    /// `Pre-Depends`, like `depends`.
    pub pre_depends: Vec<Vec<Relation>>,
    /// `Provides` (possibly versioned with `=`).
    pub provides: Vec<Relation>,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Priority`, if any.
    pub priority: Option<String>,
    /// `Section`, if any.
    pub section: Option<String>,
    /// `Source`, if any (may carry a version in parentheses).
    pub source: Option<String>,
    /// `Installed-Size` in KiB, if any.
    pub installed_size: Option<u64>,
    /// `Filename`: the path of the `.deb` relative to the mirror root.
    pub filename: String,
    /// `Size` of the `.deb` in bytes.
    pub size: u64,
    /// `SHA256` of the `.deb`, lowercase hex.
    pub sha256: String,
}

impl Package {
    /// `name=version`, as apt writes it.
    pub fn id(&self) -> String {
        format!("{}={}", self.name, self.version)
    }
}

/// Parses a relation field (`Depends`, `Pre-Depends`): comma-separated
/// groups of `|`-separated alternatives. Architecture restrictions
/// (`[amd64]`) and build profiles (`<!nocheck>`) are dropped.
pub fn parse_relations(field: &str) -> Result<Vec<Vec<Relation>>, String> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            continue;
        }
        let alternatives = group
            .split('|')
            .map(parse_relation)
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(alternatives);
    }
    Ok(groups)
}

fn parse_relation(text: &str) -> Result<Relation, String> {
    let mut rest = text.trim();
    // Drop `[arch ...]` and `<profile ...>` restrictions.
    if let Some(pos) = rest.find(['[', '<']) {
        let before = &rest[..pos];
        // `<` may also begin a version operator inside parentheses.
        if !before.contains('(') || before.contains(')') {
            rest = before.trim();
        }
    }
    let (head, version) = match rest.find('(') {
        Some(open) => {
            let close = rest[open..]
                .find(')')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed parenthesis in `{}`", text.trim()))?;
            let inner = rest[open + 1..close].trim();
            let op_len = inner
                .find(|c: char| !matches!(c, '<' | '>' | '='))
                .unwrap_or(inner.len());
            let op = VersionOp::parse(&inner[..op_len])
                .ok_or_else(|| format!("bad version operator in `{}`", text.trim()))?;
            let version = inner[op_len..].trim();
            if version.is_empty() || version.contains(char::is_whitespace) {
                return Err(format!("bad version in `{}`", text.trim()));
            }
            (rest[..open].trim(), Some((op, version.to_string())))
        }
        None => (rest, None),
    };
    if head.is_empty() || head.contains(char::is_whitespace) {
        return Err(format!("bad package name in `{}`", text.trim()));
    }
    let (name, arch) = match head.split_once(':') {
        Some((n, a)) => (n, Some(a.to_string())),
        None => (head, None),
    };
    Ok(Relation {
        name: name.to_string(),
        arch_qualifier: arch,
        version,
    })
}

/// Parses a Packages index.
pub fn parse_packages(text: &str) -> Result<Vec<Package>, DebianError> {
    parse_packages_from(text, "Packages")
}

/// Parses a Packages index; `origin` names it in errors.
pub(crate) fn parse_packages_from(text: &str, origin: &str) -> Result<Vec<Package>, DebianError> {
    deb822::parse(text, origin)?
        .iter()
        .map(|stanza| package_from_stanza(stanza, origin))
        .collect()
}

fn package_from_stanza(stanza: &Stanza<'_>, origin: &str) -> Result<Package, DebianError> {
    let name = stanza.get("Package").unwrap_or("");
    let required = |field: &str| -> Result<String, DebianError> {
        match stanza.get(field) {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(DebianError::MissingField {
                origin: origin.to_string(),
                stanza: if name.is_empty() {
                    format!("line {}", stanza.line)
                } else {
                    name.to_string()
                },
                field: field.to_string(),
            }),
        }
    };
    let parse_error = |field: &str, reason: String| DebianError::Parse {
        origin: origin.to_string(),
        line: stanza.line,
        reason: format!("`{field}` of `{name}`: {reason}"),
    };
    let relations = |field: &str| -> Result<Vec<Vec<Relation>>, DebianError> {
        match stanza.raw(field) {
            Some(v) => parse_relations(v).map_err(|e| parse_error(field, e)),
            None => Ok(Vec::new()),
        }
    };
    let number = |field: &str, value: &str| -> Result<u64, DebianError> {
        value
            .parse()
            .map_err(|_| parse_error(field, format!("`{value}` is not a number")))
    };
    let name = required("Package")?;
    let provides = relations("Provides")?
        .into_iter()
        .map(|mut group| {
            if group.len() == 1 {
                Ok(group.remove(0))
            } else {
                Err(parse_error(
                    "Provides",
                    "alternatives are not allowed".to_string(),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let optional = |field: &str| stanza.get(field).map(str::to_string);
    Ok(Package {
        version: required("Version")?,
        architecture: required("Architecture")?,
        multi_arch: optional("Multi-Arch"),
        depends: relations("Depends")?,
        pre_depends: relations("Pre-Depends")?,
        provides,
        essential: stanza
            .get("Essential")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        priority: optional("Priority"),
        section: optional("Section"),
        source: optional("Source"),
        installed_size: match stanza.get("Installed-Size") {
            Some(v) => Some(number("Installed-Size", v)?),
            None => None,
        },
        filename: required("Filename")?,
        size: number("Size", &required("Size")?)?,
        sha256: required("SHA256")?.to_ascii_lowercase(),
        name,
    })
}

/// Packages by name (the highest version is the candidate) and by the
/// virtual names the candidates provide.
#[derive(Debug, Clone, Default)]
pub struct PackageIndex {
    packages: Vec<Package>,
    /// Name -> indices into `packages`, highest version first.
    by_name: BTreeMap<String, Vec<usize>>,
    /// Virtual name -> candidate indices, sorted by package name.
    provided: BTreeMap<String, Vec<usize>>,
}

impl PackageIndex {
    /// Builds the index. When a name appears with several versions, the
    /// highest is the candidate; on equal versions the first one wins.
    pub fn new(packages: Vec<Package>) -> Self {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in packages.iter().enumerate() {
            by_name.entry(p.name.clone()).or_default().push(i);
        }
        for indices in by_name.values_mut() {
            // Stable sort keeps the first of equal versions first.
            indices.sort_by(|&a, &b| compare_versions(&packages[b].version, &packages[a].version));
        }
        let mut provided: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        // by_name iterates in name order, so providers come out sorted by name.
        for indices in by_name.values() {
            let candidate = indices[0];
            for rel in &packages[candidate].provides {
                let list = provided.entry(rel.name.clone()).or_default();
                if !list.contains(&candidate) {
                    list.push(candidate);
                }
            }
        }
        PackageIndex {
            packages,
            by_name,
            provided,
        }
    }

    /// The candidate (highest version) of the real package `name`.
    pub fn get(&self, name: &str) -> Option<&Package> {
        self.by_name.get(name).map(|v| &self.packages[v[0]])
    }

    /// Every version of `name` in the index, highest first.
    pub fn versions(&self, name: &str) -> Vec<&Package> {
        self.by_name
            .get(name)
            .map(|v| v.iter().map(|&i| &self.packages[i]).collect())
            .unwrap_or_default()
    }

    /// The candidates that provide `virtual_name`, sorted by package name.
    pub fn providers(&self, virtual_name: &str) -> Vec<&Package> {
        self.provided
            .get(virtual_name)
            .map(|v| v.iter().map(|&i| &self.packages[i]).collect())
            .unwrap_or_default()
    }

    /// How many distinct package names the index holds.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every package (all versions) in input order.
    pub fn iter(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(name: &str, arch: Option<&str>, v: Option<(VersionOp, &str)>) -> Relation {
        Relation {
            name: name.into(),
            arch_qualifier: arch.map(Into::into),
            version: v.map(|(o, s)| (o, s.to_string())),
        }
    }

    #[test]
    fn relations_with_alternatives_versions_and_qualifiers() {
        let groups = parse_relations(
            "libc6 (>= 2.34), python3:any (>=3.11~) | python3-minimal (<< 3.12),\n perl:any, foo (= 1:2-3) [amd64], bar <!nocheck>, baz(>>1)",
        )
        .unwrap();
        assert_eq!(
            groups,
            vec![
                vec![rel("libc6", None, Some((VersionOp::Ge, "2.34")))],
                vec![
                    rel("python3", Some("any"), Some((VersionOp::Ge, "3.11~"))),
                    rel("python3-minimal", None, Some((VersionOp::Lt, "3.12"))),
                ],
                vec![rel("perl", Some("any"), None)],
                vec![rel("foo", None, Some((VersionOp::Eq, "1:2-3")))],
                vec![rel("bar", None, None)],
                vec![rel("baz", None, Some((VersionOp::Gt, "1")))],
            ]
        );
        assert_eq!(groups[1][0].to_string(), "python3:any (>= 3.11~)");
    }

    #[test]
    fn obsolete_operators_and_errors() {
        let g = parse_relations("a (< 2), b (> 1)").unwrap();
        assert_eq!(g[0][0].version, Some((VersionOp::Le, "2".into())));
        assert_eq!(g[1][0].version, Some((VersionOp::Ge, "1".into())));
        assert!(parse_relations("a (>= 1").is_err());
        assert!(parse_relations("a (~= 1)").is_err());
        assert!(parse_relations("a b").is_err());
        assert!(parse_relations("a (>= )").is_err());
    }

    #[test]
    fn version_matching() {
        let r = rel("x", None, Some((VersionOp::Ge, "2.36")));
        assert!(r.version_matches(Some("2.36-9")));
        assert!(!r.version_matches(Some("2.35")));
        assert!(!r.version_matches(None));
        assert!(rel("x", None, None).version_matches(None));
        assert!(VersionOp::Lt.matches("1.0~rc1", "1.0"));
        assert!(!VersionOp::Gt.matches("1.0", "1.0"));
    }

    const INDEX: &str = "\
Package: libfoo1
Version: 1.2-1
Architecture: amd64
Multi-Arch: same
Pre-Depends: libc6 (>= 2.17)
Depends: libbar | libbaz, zlib1g
Provides: libfoo-abi (= 1.2), foo-virtual
Priority: optional
Section: libs
Source: foo (1.2-1)
Installed-Size: 120
Essential: yes
Description: a library
 with a long description
Filename: pool/main/f/foo/libfoo1_1.2-1_amd64.deb
Size: 4242
SHA256: ABCDEF

Package: libfoo1
Version: 1.10-1
Architecture: amd64
Filename: pool/main/f/foo/libfoo1_1.10-1_amd64.deb
Size: 1
SHA256: 00

Package: afoo
Version: 1
Architecture: all
Provides: foo-virtual
Filename: pool/main/a/afoo/afoo_1_all.deb
Size: 1
SHA256: 11
";

    #[test]
    fn parses_packages_and_indexes_them() {
        let pkgs = parse_packages(INDEX).unwrap();
        assert_eq!(pkgs.len(), 3);
        let p = &pkgs[0];
        assert_eq!(p.name, "libfoo1");
        assert_eq!(p.multi_arch.as_deref(), Some("same"));
        assert_eq!(p.pre_depends.len(), 1);
        assert_eq!(p.depends[0].len(), 2);
        assert_eq!(
            p.provides[0],
            rel("libfoo-abi", None, Some((VersionOp::Eq, "1.2")))
        );
        assert!(p.essential);
        assert_eq!(p.installed_size, Some(120));
        assert_eq!(p.size, 4242);
        assert_eq!(p.sha256, "abcdef");
        assert_eq!(p.source.as_deref(), Some("foo (1.2-1)"));
        assert!(!pkgs[1].essential);

        let index = PackageIndex::new(pkgs);
        assert_eq!(index.len(), 2);
        assert_eq!(index.get("libfoo1").unwrap().version, "1.10-1");
        assert_eq!(index.versions("libfoo1").len(), 2);
        // Only candidates provide: 1.10-1 provides nothing.
        let providers: Vec<_> = index
            .providers("foo-virtual")
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(providers, vec!["afoo"]);
        assert!(index.providers("libfoo-abi").is_empty());
        assert!(index.get("nope").is_none());
    }

    #[test]
    fn missing_fields_and_bad_numbers_are_errors() {
        let err =
            parse_packages("Package: x\nVersion: 1\nArchitecture: all\nSize: 1\nSHA256: 00\n")
                .unwrap_err();
        match err {
            DebianError::MissingField { stanza, field, .. } => {
                assert_eq!(stanza, "x");
                assert_eq!(field, "Filename");
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = parse_packages(
            "Package: x\nVersion: 1\nArchitecture: all\nFilename: f\nSize: big\nSHA256: 00\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`big` is not a number"), "{err}");
        let err = parse_packages(
            "Package: x\nVersion: 1\nArchitecture: all\nFilename: f\nSize: 1\nSHA256: 00\nDepends: a (>= 1\n",
        )
        .unwrap_err();
        assert!(matches!(err, DebianError::Parse { line: 1, .. }), "{err:?}");
    }
}
