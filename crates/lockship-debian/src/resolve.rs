//! Dependency closure over `Depends` and `Pre-Depends`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::{DebianError, Package, PackageIndex, Relation};

/// What to install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveRequest {
    /// Package names to install (real, or virtual: then the first provider
    /// by name is taken).
    pub roots: Vec<String>,
    /// Packages never installed: a dependency on one of them counts as
    /// satisfied and is recorded in [`Resolution::skipped`].
    pub exclude: BTreeSet<String>,
}

/// A dependency that was satisfied by exclusion instead of installation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// The excluded package.
    pub package: String,
    /// The package that depends on it.
    pub needed_by: String,
}

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Every package to install, sorted by name.
    pub packages: Vec<Package>,
    /// Dependencies left out because they are excluded, sorted.
    pub skipped: Vec<Skipped>,
}

/// Computes the closure of `request.roots` over `Depends` and `Pre-Depends`
/// (not `Recommends`), breadth first, so the result is deterministic.
///
/// For alternatives (`a | b`), one already selected (roots are selected
/// first) wins, else the first that exists with a matching version (real, or
/// a provider of the virtual name). For a virtual name, an already-selected
/// provider wins, else a real package of that name, else the first provider
/// by name. Versioned dependencies are checked against the chosen package's
/// version, or against the version of its `Provides` entry.
/// `Conflicts` and `Breaks` are not considered.
pub fn resolve(index: &PackageIndex, request: &ResolveRequest) -> Result<Resolution, DebianError> {
    let mut state = State {
        index,
        exclude: &request.exclude,
        selected: BTreeMap::new(),
        parent: BTreeMap::new(),
        provided: BTreeMap::new(),
        queue: VecDeque::new(),
        skipped: BTreeSet::new(),
    };
    for root in &request.roots {
        if request.exclude.contains(root) {
            return Err(DebianError::Unresolvable {
                package: root.clone(),
                needed_by: Vec::new(),
                reason: "it is both requested and excluded".to_string(),
            });
        }
        if state.selected.contains_key(root) {
            continue;
        }
        let relation = Relation {
            name: root.clone(),
            arch_qualifier: None,
            version: None,
        };
        if state.satisfied_by_selected(&relation) {
            continue;
        }
        match state.candidate(&relation) {
            Some(pkg) => state.select(pkg, None),
            None => {
                return Err(DebianError::Unresolvable {
                    package: root.clone(),
                    needed_by: Vec::new(),
                    reason: state.why_not(&relation),
                })
            }
        }
    }
    while let Some(name) = state.queue.pop_front() {
        let pkg = state.selected[&name];
        for group in pkg.pre_depends.iter().chain(&pkg.depends) {
            state.satisfy(pkg, group)?;
        }
    }
    Ok(Resolution {
        packages: state.selected.into_values().cloned().collect(),
        skipped: state.skipped.into_iter().collect(),
    })
}

struct State<'a> {
    index: &'a PackageIndex,
    exclude: &'a BTreeSet<String>,
    selected: BTreeMap<String, &'a Package>,
    /// Who pulled each selected package in (roots have none).
    parent: BTreeMap<String, String>,
    /// Virtual name -> (provider, provided version) among selected packages.
    provided: BTreeMap<String, Vec<(String, Option<String>)>>,
    queue: VecDeque<String>,
    skipped: BTreeSet<Skipped>,
}

impl<'a> State<'a> {
    fn select(&mut self, pkg: &'a Package, needed_by: Option<&str>) {
        if self.selected.contains_key(&pkg.name) {
            return;
        }
        self.selected.insert(pkg.name.clone(), pkg);
        if let Some(parent) = needed_by {
            self.parent.insert(pkg.name.clone(), parent.to_string());
        }
        for p in &pkg.provides {
            self.provided
                .entry(p.name.clone())
                .or_default()
                .push((pkg.name.clone(), p.version.as_ref().map(|(_, v)| v.clone())));
        }
        self.queue.push_back(pkg.name.clone());
    }

    fn satisfy(&mut self, pkg: &'a Package, group: &[Relation]) -> Result<(), DebianError> {
        if group.iter().any(|alt| self.satisfied_by_selected(alt)) {
            return Ok(());
        }
        if let Some(excluded) = group.iter().find_map(|alt| self.excluded(alt)) {
            self.skipped.insert(Skipped {
                package: excluded,
                needed_by: pkg.name.clone(),
            });
            return Ok(());
        }
        if let Some(choice) = group.iter().find_map(|alt| self.candidate(alt)) {
            self.select(choice, Some(&pkg.name));
            return Ok(());
        }
        let reason = group
            .iter()
            .map(|alt| self.why_not(alt))
            .collect::<Vec<_>>()
            .join("; ");
        Err(DebianError::Unresolvable {
            package: group
                .iter()
                .map(Relation::to_string)
                .collect::<Vec<_>>()
                .join(" | "),
            needed_by: self.chain(&pkg.name),
            reason,
        })
    }

    fn satisfied_by_selected(&self, rel: &Relation) -> bool {
        if let Some(p) = self.selected.get(&rel.name) {
            if rel.version_matches(Some(&p.version)) {
                return true;
            }
        }
        self.provided
            .get(&rel.name)
            .is_some_and(|list| list.iter().any(|(_, v)| rel.version_matches(v.as_deref())))
    }

    /// The excluded package that satisfies `rel`, if any: the package
    /// itself, or (for a virtual name) an excluded provider.
    fn excluded(&self, rel: &Relation) -> Option<String> {
        if self.exclude.contains(&rel.name) {
            return Some(rel.name.clone());
        }
        if self.index.get(&rel.name).is_some() {
            return None;
        }
        self.index
            .providers(&rel.name)
            .into_iter()
            .find(|p| self.exclude.contains(&p.name))
            .map(|p| p.name.clone())
    }

    /// The package to install for `rel`, if one matches.
    fn candidate(&self, rel: &Relation) -> Option<&'a Package> {
        if let Some(real) = self.index.get(&rel.name) {
            if rel.version_matches(Some(&real.version)) && !self.exclude.contains(&real.name) {
                return Some(real);
            }
        }
        self.index.providers(&rel.name).into_iter().find(|p| {
            !self.exclude.contains(&p.name)
                && p.provides
                    .iter()
                    .any(|pr| pr.name == rel.name && rel.version_matches(provided_version(pr)))
        })
    }

    fn why_not(&self, rel: &Relation) -> String {
        let providers = self.index.providers(&rel.name);
        match self.index.get(&rel.name) {
            Some(real) => format!(
                "the index has `{}` version `{}`, which does not satisfy `{rel}`",
                real.name, real.version
            ),
            None if providers.is_empty() => {
                format!("no package `{}` in the index", rel.name)
            }
            None => format!(
                "`{}` is provided by {}, but not with a version satisfying `{rel}`",
                rel.name,
                providers
                    .iter()
                    .map(|p| format!("`{}`", p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// `name`, then who needed it, up to the root.
    fn chain(&self, name: &str) -> Vec<String> {
        let mut chain = vec![name.to_string()];
        let mut current = name;
        while let Some(parent) = self.parent.get(current) {
            if chain.contains(parent) {
                break;
            }
            chain.push(parent.clone());
            current = parent;
        }
        chain
    }
}

fn provided_version(rel: &Relation) -> Option<&str> {
    rel.version.as_ref().map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_packages;

    fn index(stanzas: &[(&str, &str, &str)]) -> PackageIndex {
        // (name, version, extra fields)
        let mut text = String::new();
        for (name, version, extra) in stanzas {
            text.push_str(&format!(
                "Package: {name}\nVersion: {version}\nArchitecture: amd64\n{extra}Filename: pool/{name}.deb\nSize: 1\nSHA256: 00\n\n"
            ));
        }
        PackageIndex::new(parse_packages(&text).unwrap())
    }

    fn names(r: &Resolution) -> Vec<&str> {
        r.packages.iter().map(|p| p.name.as_str()).collect()
    }

    fn request(roots: &[&str], exclude: &[&str]) -> ResolveRequest {
        ResolveRequest {
            roots: roots.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn closure_over_depends_and_pre_depends_not_recommends() {
        let idx = index(&[
            (
                "app",
                "1",
                "Depends: liba (>= 1.0), libb\nPre-Depends: pre\nRecommends: rec\n",
            ),
            ("liba", "1.2", "Depends: libc6\n"),
            ("libb", "1", ""),
            ("pre", "1", "Depends: libc6 (>= 2.30)\n"),
            ("libc6", "2.36-9", ""),
            ("rec", "1", ""),
            ("unrelated", "1", ""),
        ]);
        let r = resolve(&idx, &request(&["app"], &[])).unwrap();
        assert_eq!(names(&r), vec!["app", "liba", "libb", "libc6", "pre"]);
        assert!(r.skipped.is_empty());
    }

    #[test]
    fn alternatives_prefer_selected_then_first_existing() {
        let idx = index(&[
            ("app", "1", "Depends: missing | second | third\n"),
            ("second", "1", ""),
            ("third", "1", ""),
            ("tool", "1", "Depends: x | third\n"),
            ("x", "1", ""),
        ]);
        let r = resolve(&idx, &request(&["app"], &[])).unwrap();
        assert_eq!(names(&r), vec!["app", "second"]);
        // `third` is a root, so `tool`'s `x | third` is already satisfied.
        let r = resolve(&idx, &request(&["tool", "third"], &[])).unwrap();
        assert_eq!(names(&r), vec!["third", "tool"]);
    }

    #[test]
    fn virtual_packages_and_versioned_provides() {
        let idx = index(&[
            ("app", "1", "Depends: mail-agent, abi (>= 2)\n"),
            ("zmta", "1", "Provides: mail-agent\n"),
            ("amta", "1", "Provides: mail-agent\n"),
            ("old-abi", "1", "Provides: abi (= 1)\n"),
            ("new-abi", "1", "Provides: abi (= 2)\n"),
            ("unversioned", "1", "Provides: abi\n"),
        ]);
        let r = resolve(&idx, &request(&["app"], &[])).unwrap();
        assert_eq!(names(&r), vec!["amta", "app", "new-abi"]);
        // An already-selected provider wins over the first by name.
        let r = resolve(&idx, &request(&["zmta", "app"], &[])).unwrap();
        assert_eq!(names(&r), vec!["app", "new-abi", "zmta"]);
        // A virtual root takes the first provider.
        let r = resolve(&idx, &request(&["mail-agent"], &[])).unwrap();
        assert_eq!(names(&r), vec!["amta"]);
    }

    #[test]
    fn real_package_beats_providers_when_version_fits() {
        let idx = index(&[
            ("app", "1", "Depends: awk (>= 2)\n"),
            ("awk", "1", ""),
            ("gawk", "5", "Provides: awk (= 5)\n"),
            ("app2", "1", "Depends: awk\n"),
        ]);
        let r = resolve(&idx, &request(&["app2"], &[])).unwrap();
        assert_eq!(names(&r), vec!["app2", "awk"]);
        let r = resolve(&idx, &request(&["app"], &[])).unwrap();
        assert_eq!(names(&r), vec!["app", "gawk"]);
    }

    #[test]
    fn unsatisfiable_version_reports_the_chain() {
        let idx = index(&[
            ("root", "1", "Depends: mid\n"),
            ("mid", "1", "Depends: leaf (>= 2.0)\n"),
            ("leaf", "1.9", ""),
        ]);
        let err = resolve(&idx, &request(&["root"], &[])).unwrap_err();
        match &err {
            DebianError::Unresolvable {
                package,
                needed_by,
                reason,
            } => {
                assert_eq!(package, "leaf (>= 2.0)");
                assert_eq!(needed_by, &vec!["mid".to_string(), "root".to_string()]);
                assert!(reason.contains("`1.9`"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.hint().is_some());
        let err = resolve(&idx, &request(&["nope"], &[])).unwrap_err();
        assert!(err.to_string().contains("no package `nope`"), "{err}");
    }

    #[test]
    fn excluded_dependencies_are_skipped_and_recorded() {
        let idx = index(&[
            (
                "app",
                "1",
                "Depends: perl-base, debconf | debconf-2.0, libc6\n",
            ),
            ("other", "1", "Depends: perl-base\n"),
            ("perl-base", "1", "Depends: dpkg\n"),
            ("debconf", "1", ""),
            ("cdebconf", "1", "Provides: debconf-2.0\n"),
            ("libc6", "1", ""),
            ("dpkg", "1", ""),
        ]);
        let r = resolve(&idx, &request(&["app", "other"], &["perl-base", "debconf"])).unwrap();
        assert_eq!(names(&r), vec!["app", "libc6", "other"]);
        assert_eq!(
            r.skipped,
            vec![
                Skipped {
                    package: "debconf".into(),
                    needed_by: "app".into()
                },
                Skipped {
                    package: "perl-base".into(),
                    needed_by: "app".into()
                },
                Skipped {
                    package: "perl-base".into(),
                    needed_by: "other".into()
                },
            ]
        );
        assert!(resolve(&idx, &request(&["debconf"], &["debconf"])).is_err());
    }

    #[test]
    fn cycles_terminate_and_output_is_sorted() {
        let idx = index(&[
            ("b", "1", "Depends: a\n"),
            ("a", "1", "Depends: b, c\n"),
            ("c", "1", "Pre-Depends: a\n"),
        ]);
        let r = resolve(&idx, &request(&["c"], &[])).unwrap();
        assert_eq!(names(&r), vec!["a", "b", "c"]);
    }
}
