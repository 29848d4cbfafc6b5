//! Wheel compatibility tags (PEP 425, manylinux PEP 600, musllinux PEP 656)
//! and choosing the best wheel for a target.

use std::collections::HashMap;
use std::fmt;

use crate::WheelFilename;

/// A CPU architecture, spelled as in wheel platform tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `x86_64` (linux/amd64).
    X86_64,
    /// `aarch64` (linux/arm64).
    Aarch64,
    /// `armv7l` (linux/arm/v7).
    Armv7l,
}

impl Arch {
    /// Every architecture, in the order of the target table.
    pub const ALL: [Arch; 3] = [Arch::X86_64, Arch::Aarch64, Arch::Armv7l];

    /// The spelling used in platform tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7l => "armv7l",
        }
    }

    /// Its row of the target table ([`lockship_target::TARGETS`]).
    pub fn target(self) -> &'static lockship_target::Target {
        lockship_target::by_machine(self.as_str()).expect("every Arch is in the target table")
    }

    /// The architecture of wheel tags for a Debian architecture (`armhf` is
    /// `armv7l`), if wheels exist for it here.
    pub fn for_debian_arch(debian_arch: &str) -> Option<Arch> {
        let machine = lockship_target::by_debian_arch(debian_arch)?.machine;
        Arch::ALL.into_iter().find(|a| a.as_str() == machine)
    }

    /// The oldest glibc manylinux defines for this architecture: 2.5
    /// (`manylinux1`) on x86_64, 2.17 (`manylinux2014`) elsewhere.
    fn oldest_glibc_minor(self) -> u16 {
        self.target().manylinux_oldest_glibc_minor.unwrap_or(17)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The C library of the base image, with its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Libc {
    /// GNU libc (`manylinux_2_M`).
    Glibc {
        /// Major version (2).
        major: u16,
        /// Minor version, for example 36 on Debian bookworm.
        minor: u16,
    },
    /// musl (`musllinux_1_M`).
    Musl {
        /// Major version (1).
        major: u16,
        /// Minor version, for example 2.
        minor: u16,
    },
}

/// What a wheel must fit: CPython version, ABI, architecture and C library.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WheelTarget {
    /// The CPython version, for example `(3, 11)`.
    pub python: (u8, u8),
    /// The interpreter's ABI tag, for example `cp311`.
    pub abi: String,
    /// The CPU architecture.
    pub arch: Arch,
    /// The C library.
    pub libc: Libc,
}

impl WheelTarget {
    /// Platform tags in priority order: the newest manylinux (or musllinux)
    /// level the base supports first, legacy aliases (`manylinux2014`,
    /// `manylinux2010`, `manylinux1`) right after the level they equal.
    /// `linux_<arch>` is never included: such wheels are not portable.
    pub fn platform_tags(&self) -> Vec<String> {
        let arch = self.arch.as_str();
        let mut tags = Vec::new();
        match self.libc {
            Libc::Glibc { major, minor } => {
                if major != 2 {
                    return tags;
                }
                let oldest = self.arch.oldest_glibc_minor();
                for m in (oldest..=minor).rev() {
                    tags.push(format!("manylinux_2_{m}_{arch}"));
                    let legacy = match m {
                        17 => Some("manylinux2014"),
                        12 => Some("manylinux2010"),
                        5 => Some("manylinux1"),
                        _ => None,
                    };
                    if let Some(legacy) = legacy {
                        tags.push(format!("{legacy}_{arch}"));
                    }
                }
            }
            Libc::Musl { major, minor } => {
                for m in (0..=minor).rev() {
                    tags.push(format!("musllinux_{major}_{m}_{arch}"));
                }
            }
        }
        tags
    }

    /// Every accepted `python-abi-platform` tag, best first, in the order pip
    /// and uv use for CPython: the interpreter's own ABI, `abi3` (down to
    /// `cp32`), `none`, then pure-Python tags with a platform, then `any`.
    pub fn tags(&self) -> Vec<String> {
        let (major, minor) = self.python;
        let cp = format!("cp{major}{minor}");
        let plats = self.platform_tags();
        let mut tags = Vec::new();
        let push_all = |py: &str, abi: &str, tags: &mut Vec<String>| {
            for plat in &plats {
                tags.push(format!("{py}-{abi}-{plat}"));
            }
        };
        push_all(&cp, &self.abi, &mut tags);
        if major == 3 && self.abi != "abi3" {
            push_all(&cp, "abi3", &mut tags);
        }
        push_all(&cp, "none", &mut tags);
        if major == 3 {
            for m in (2..minor).rev() {
                push_all(&format!("cp3{m}"), "abi3", &mut tags);
            }
        }
        for py in py_versions(major, minor) {
            push_all(&py, "none", &mut tags);
        }
        tags.push(format!("{cp}-none-any"));
        for py in py_versions(major, minor) {
            tags.push(format!("{py}-none-any"));
        }
        tags
    }
}

/// `pyXY`, `pyX`, then `pyX(Y-1)` down to `pyX0`, as packaging orders them.
fn py_versions(major: u8, minor: u8) -> Vec<String> {
    let mut out = vec![format!("py{major}{minor}"), format!("py{major}")];
    for m in (0..minor).rev() {
        out.push(format!("py{major}{m}"));
    }
    out
}

/// A human description of the target for error messages, for example
/// `CPython 3.11 (`cp311`) on linux x86_64 with glibc 2.36 (platform tags
/// `manylinux_2_36_x86_64` down to `manylinux_2_5_x86_64`)`.
pub fn describe_target(target: &WheelTarget) -> String {
    let (major, minor) = target.python;
    let libc = match target.libc {
        Libc::Glibc { major, minor } => format!("glibc {major}.{minor}"),
        Libc::Musl { major, minor } => format!("musl {major}.{minor}"),
    };
    let plats = target.platform_tags();
    let last = plats
        .iter()
        .rev()
        .find(|p| p.starts_with("manylinux_") || p.starts_with("musllinux_"));
    let range = match (plats.first(), last) {
        (Some(first), Some(last)) if first != last => {
            format!("platform tags `{first}` down to `{last}`")
        }
        (Some(first), _) => format!("platform tag `{first}`"),
        _ => "no manylinux platform tag".to_string(),
    };
    format!(
        "CPython {major}.{minor} (`{}`) on linux {} with {libc} ({range}, or pure-Python `py3-none-any`)",
        target.abi, target.arch
    )
}

/// Lower is better; the index of the wheel's best tag in
/// [`WheelTarget::tags`].
pub type Priority = usize;

/// A precomputed tag → priority table for one target, for choosing among
/// many candidates.
#[derive(Debug, Clone)]
pub struct TagPriorities {
    table: HashMap<String, Priority>,
}

impl TagPriorities {
    /// Builds the table for `target`.
    pub fn new(target: &WheelTarget) -> TagPriorities {
        let mut table = HashMap::new();
        for (i, tag) in target.tags().into_iter().enumerate() {
            table.entry(tag).or_insert(i);
        }
        TagPriorities { table }
    }

    /// The priority of a wheel, or `None` when it does not fit the target.
    pub fn priority(&self, wheel: &WheelFilename) -> Option<Priority> {
        wheel
            .tags()
            .filter_map(|(py, abi, plat)| self.table.get(&format!("{py}-{abi}-{plat}")).copied())
            .min()
    }
}

/// Picks the best wheel for `target` among `candidates` (file names),
/// returning it with its priority (lower is better). Names that are not
/// wheels are skipped. Between equal priorities the higher build tag wins,
/// then the earlier candidate.
pub fn best_wheel<'a>(
    candidates: &'a [String],
    target: &WheelTarget,
) -> Option<(&'a String, Priority)> {
    let table = TagPriorities::new(target);
    let mut best: Option<(&'a String, Priority, u64)> = None;
    for candidate in candidates {
        let Ok(wheel) = WheelFilename::parse(candidate) else {
            continue;
        };
        let Some(priority) = table.priority(&wheel) else {
            continue;
        };
        let build = wheel.build_number();
        let better = match best {
            None => true,
            Some((_, p, b)) => priority < p || (priority == p && build > b),
        };
        if better {
            best = Some((candidate, priority, build));
        }
    }
    best.map(|(c, p, _)| (c, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arches_come_from_the_target_table() {
        for arch in Arch::ALL {
            assert_eq!(arch.target().machine, arch.as_str());
            assert_eq!(Arch::for_debian_arch(arch.target().debian_arch), Some(arch));
        }
        assert_eq!(Arch::for_debian_arch("armhf"), Some(Arch::Armv7l));
        assert_eq!(Arch::for_debian_arch("s390x"), None);
        assert_eq!(Arch::X86_64.oldest_glibc_minor(), 5);
        assert_eq!(Arch::Armv7l.oldest_glibc_minor(), 17);
    }

    fn glibc(minor: u16, arch: Arch) -> WheelTarget {
        WheelTarget {
            python: (3, 11),
            abi: "cp311".into(),
            arch,
            libc: Libc::Glibc { major: 2, minor },
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Consecutive tags with the same `python-abi` shown as one line.
    fn summarize(tags: &[String]) -> String {
        let mut lines = Vec::new();
        let mut start = 0;
        for i in 1..=tags.len() {
            let prefix = |t: &String| t.rsplit_once('-').map(|(p, _)| p).unwrap_or("").to_string();
            if i == tags.len() || prefix(&tags[i]) != prefix(&tags[start]) {
                let plat = |t: &String| t.rsplit('-').next().unwrap_or("").to_string();
                if i - start == 1 {
                    lines.push(format!("{start} {}", tags[start]));
                } else {
                    lines.push(format!(
                        "{start}..{} {}-{{{} .. {}}}",
                        i - 1,
                        prefix(&tags[start]),
                        plat(&tags[start]),
                        plat(&tags[i - 1])
                    ));
                }
                start = i;
            }
        }
        lines.join("\n")
    }

    #[test]
    fn tag_priority_glibc_2_36_x86_64() {
        let target = glibc(36, Arch::X86_64);
        insta::assert_snapshot!(target.platform_tags().join(" "), @"manylinux_2_36_x86_64 manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_33_x86_64 manylinux_2_32_x86_64 manylinux_2_31_x86_64 manylinux_2_30_x86_64 manylinux_2_29_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_26_x86_64 manylinux_2_25_x86_64 manylinux_2_24_x86_64 manylinux_2_23_x86_64 manylinux_2_22_x86_64 manylinux_2_21_x86_64 manylinux_2_20_x86_64 manylinux_2_19_x86_64 manylinux_2_18_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_16_x86_64 manylinux_2_15_x86_64 manylinux_2_14_x86_64 manylinux_2_13_x86_64 manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux_2_11_x86_64 manylinux_2_10_x86_64 manylinux_2_9_x86_64 manylinux_2_8_x86_64 manylinux_2_7_x86_64 manylinux_2_6_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64");
        insta::assert_snapshot!(summarize(&target.tags()), @r#"
0..34 cp311-cp311-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
35..69 cp311-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
70..104 cp311-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
105..139 cp310-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
140..174 cp39-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
175..209 cp38-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
210..244 cp37-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
245..279 cp36-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
280..314 cp35-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
315..349 cp34-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
350..384 cp33-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
385..419 cp32-abi3-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
420..454 py311-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
455..489 py3-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
490..524 py310-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
525..559 py39-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
560..594 py38-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
595..629 py37-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
630..664 py36-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
665..699 py35-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
700..734 py34-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
735..769 py33-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
770..804 py32-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
805..839 py31-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
840..874 py30-none-{manylinux_2_36_x86_64 .. manylinux1_x86_64}
875 cp311-none-any
876 py311-none-any
877 py3-none-any
878 py310-none-any
879 py39-none-any
880 py38-none-any
881 py37-none-any
882 py36-none-any
883 py35-none-any
884 py34-none-any
885 py33-none-any
886 py32-none-any
887 py31-none-any
888 py30-none-any
"#);
    }

    #[test]
    fn tag_priority_musl_1_2_aarch64() {
        let target = WheelTarget {
            python: (3, 11),
            abi: "cp311".into(),
            arch: Arch::Aarch64,
            libc: Libc::Musl { major: 1, minor: 2 },
        };
        insta::assert_snapshot!(target.platform_tags().join(" "), @"musllinux_1_2_aarch64 musllinux_1_1_aarch64 musllinux_1_0_aarch64");
        insta::assert_snapshot!(summarize(&target.tags()), @r#"
0..2 cp311-cp311-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
3..5 cp311-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
6..8 cp311-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
9..11 cp310-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
12..14 cp39-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
15..17 cp38-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
18..20 cp37-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
21..23 cp36-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
24..26 cp35-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
27..29 cp34-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
30..32 cp33-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
33..35 cp32-abi3-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
36..38 py311-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
39..41 py3-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
42..44 py310-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
45..47 py39-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
48..50 py38-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
51..53 py37-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
54..56 py36-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
57..59 py35-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
60..62 py34-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
63..65 py33-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
66..68 py32-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
69..71 py31-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
72..74 py30-none-{musllinux_1_2_aarch64 .. musllinux_1_0_aarch64}
75 cp311-none-any
76 py311-none-any
77 py3-none-any
78 py310-none-any
79 py39-none-any
80 py38-none-any
81 py37-none-any
82 py36-none-any
83 py35-none-any
84 py34-none-any
85 py33-none-any
86 py32-none-any
87 py31-none-any
88 py30-none-any
"#);
    }

    #[test]
    fn prefers_newest_fitting_manylinux_and_refuses_newer() {
        let candidates = names(&[
            "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-musllinux_1_2_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-manylinux_2_28_aarch64.whl",
            "numpy-2.0.0.tar.gz",
        ]);
        let target = glibc(36, Arch::X86_64);
        let (best, _) = best_wheel(&candidates, &target).unwrap();
        assert_eq!(best, &candidates[2]);

        let only_new = names(&[
            "numpy-2.0.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "numpy-2.0.0-cp311-cp311-linux_x86_64.whl",
        ]);
        assert_eq!(best_wheel(&only_new, &target), None);
    }

    #[test]
    fn accepts_abi3_and_pure_python_in_order() {
        let target = glibc(36, Arch::Aarch64);
        let candidates = names(&[
            "x-1.0-py3-none-any.whl",
            "x-1.0-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        ]);
        let (best, p_abi3) = best_wheel(&candidates, &target).unwrap();
        assert_eq!(best, &candidates[1]);
        let (_, p_any) = best_wheel(&candidates[..1], &target).unwrap();
        assert!(p_abi3 < p_any);
        // abi3 from a newer CPython than the target does not fit.
        let newer = names(&["x-1.0-cp312-abi3-manylinux_2_17_aarch64.whl"]);
        assert_eq!(best_wheel(&newer, &target), None);
        // A build tag breaks ties.
        let builds = names(&["x-1.0-1-py3-none-any.whl", "x-1.0-2-py3-none-any.whl"]);
        assert_eq!(best_wheel(&builds, &target).unwrap().0, &builds[1]);
    }

    #[test]
    fn musl_target_refuses_manylinux() {
        let target = WheelTarget {
            python: (3, 11),
            abi: "cp311".into(),
            arch: Arch::X86_64,
            libc: Libc::Musl { major: 1, minor: 1 },
        };
        let candidates = names(&[
            "x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
            "x-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
        ]);
        assert_eq!(best_wheel(&candidates, &target).unwrap().0, &candidates[2]);
    }

    #[test]
    fn describes_targets() {
        insta::assert_snapshot!(describe_target(&glibc(36, Arch::Armv7l)), @"CPython 3.11 (`cp311`) on linux armv7l with glibc 2.36 (platform tags `manylinux_2_36_armv7l` down to `manylinux_2_17_armv7l`, or pure-Python `py3-none-any`)");
        insta::assert_snapshot!(describe_target(&WheelTarget {
            python: (3, 13),
            abi: "cp313".into(),
            arch: Arch::X86_64,
            libc: Libc::Musl { major: 1, minor: 2 },
        }), @"CPython 3.13 (`cp313`) on linux x86_64 with musl 1.2 (platform tags `musllinux_1_2_x86_64` down to `musllinux_1_0_x86_64`, or pure-Python `py3-none-any`)");
    }
}
