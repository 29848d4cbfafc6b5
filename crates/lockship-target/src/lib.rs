//! The one target table: for each CPU architecture lockship knows, its names
//! in every world lockship deals with — the OCI platform, Debian's
//! architecture and multiarch triplet, wheel platform tags, Python's
//! `platform.machine()`, the dynamic loaders, the ELF header and the linker
//! cache.
//!
//! Every crate that needs one of these names looks it up here, so an
//! architecture is added in one place.
//!
//! ```
//! let arm = lockship_target::by_debian_arch("armhf").unwrap();
//! assert_eq!(arm.triplet, "arm-linux-gnueabihf");
//! assert_eq!(arm.machine, "armv7l");
//! assert_eq!(arm.oci_platform(), "linux/arm/v7");
//! assert_eq!(lockship_target::by_oci("arm64", Some("v8")).unwrap().debian_arch, "arm64");
//! ```
#![deny(missing_docs)]

/// ELF `e_machine` values of the architectures in [`TARGETS`].
pub mod em {
    /// Intel 80386.
    pub const EM_386: u16 = 3;
    /// 32-bit Arm.
    pub const EM_ARM: u16 = 40;
    /// AMD x86-64.
    pub const EM_X86_64: u16 = 62;
    /// 64-bit Arm.
    pub const EM_AARCH64: u16 = 183;
}

/// How an architecture's binaries look in their ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elf {
    /// `e_machine`.
    pub machine: u16,
    /// `ELFCLASS64` (`true`) or `ELFCLASS32`.
    pub class64: bool,
    /// The value of the loader's `$PLATFORM` token (`AT_PLATFORM`).
    pub at_platform: &'static str,
}

/// A dynamic loader: its file name and canonical path (`PT_INTERP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loader {
    /// The file name (`ld-linux-x86-64.so.2`).
    pub name: &'static str,
    /// The path binaries name (`/lib64/ld-linux-x86-64.so.2`).
    pub path: &'static str,
}

/// One architecture, with its name in every world.
///
/// Fields that are `Option` are `None` where lockship has no use for the
/// value yet; fill them in when a caller needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The OCI `architecture` (`amd64`, `arm64`, `arm`).
    pub oci_architecture: &'static str,
    /// The OCI `variant`, for the architectures that have one (`v7`).
    pub oci_variant: Option<&'static str>,
    /// Debian's architecture name (`amd64`, `arm64`, `armhf`).
    pub debian_arch: &'static str,
    /// The GNU triplet, Debian's multiarch directory (`x86_64-linux-gnu`).
    pub triplet: &'static str,
    /// `uname -m` as Python's `platform.machine()` reports it in the image,
    /// which is also the architecture of wheel platform tags
    /// (`manylinux_2_17_aarch64`, `musllinux_1_2_armv7l`).
    pub machine: &'static str,
    /// Rust's `std::env::consts::ARCH` for a host of this architecture.
    pub rust_arch: Option<&'static str>,
    /// The LLVM (Rust) target triple of glibc Linux, as python-build-standalone
    /// names its builds (`x86_64-unknown-linux-gnu`).
    pub llvm_triple: Option<&'static str>,
    /// The oldest glibc minor version manylinux defines for this
    /// architecture: 5 (`manylinux1`) on x86, 17 (`manylinux2014`) elsewhere.
    pub manylinux_oldest_glibc_minor: Option<u16>,
    /// The ELF header of its binaries.
    pub elf: Option<Elf>,
    /// glibc's dynamic loader.
    pub glibc_loader: Option<Loader>,
    /// musl's dynamic loader's file name (`ld-musl-x86_64.so.1`).
    pub musl_loader: Option<&'static str>,
    /// The `ldconfig` flag bits of `/etc/ld.so.cache` entries that name the
    /// architecture (besides `FLAG_ELF_LIBC6`).
    pub ld_cache_flags: Option<i32>,
    /// Whether lockship builds images for it (`--platform`).
    pub buildable: bool,
}

impl Target {
    /// The OCI platform string (`linux/amd64`, `linux/arm/v7`).
    pub fn oci_platform(&self) -> String {
        match self.oci_variant {
            Some(variant) => format!("linux/{}/{variant}", self.oci_architecture),
            None => format!("linux/{}", self.oci_architecture),
        }
    }

    /// Whether merged-/usr Debian has a `/lib64` link on it: where glibc's
    /// loader lives under `/lib64`.
    pub fn has_lib64(&self) -> bool {
        self.glibc_loader
            .is_some_and(|loader| loader.path.starts_with("/lib64/"))
    }
}

const fn target(
    oci_architecture: &'static str,
    oci_variant: Option<&'static str>,
    debian_arch: &'static str,
    triplet: &'static str,
    machine: &'static str,
) -> Target {
    Target {
        oci_architecture,
        oci_variant,
        debian_arch,
        triplet,
        machine,
        rust_arch: None,
        llvm_triple: None,
        manylinux_oldest_glibc_minor: None,
        elf: None,
        glibc_loader: None,
        musl_loader: None,
        ld_cache_flags: None,
        buildable: false,
    }
}

/// Every architecture lockship knows; the ones it builds for first, in the
/// order `--platform` lists them.
pub const TARGETS: &[Target] = &[
    Target {
        rust_arch: Some("x86_64"),
        llvm_triple: Some("x86_64-unknown-linux-gnu"),
        manylinux_oldest_glibc_minor: Some(5),
        elf: Some(Elf {
            machine: em::EM_X86_64,
            class64: true,
            at_platform: "x86_64",
        }),
        glibc_loader: Some(Loader {
            name: "ld-linux-x86-64.so.2",
            path: "/lib64/ld-linux-x86-64.so.2",
        }),
        musl_loader: Some("ld-musl-x86_64.so.1"),
        ld_cache_flags: Some(0x0300),
        buildable: true,
        ..target("amd64", None, "amd64", "x86_64-linux-gnu", "x86_64")
    },
    Target {
        rust_arch: Some("aarch64"),
        llvm_triple: Some("aarch64-unknown-linux-gnu"),
        manylinux_oldest_glibc_minor: Some(17),
        elf: Some(Elf {
            machine: em::EM_AARCH64,
            class64: true,
            at_platform: "aarch64",
        }),
        glibc_loader: Some(Loader {
            name: "ld-linux-aarch64.so.1",
            path: "/lib/ld-linux-aarch64.so.1",
        }),
        musl_loader: Some("ld-musl-aarch64.so.1"),
        ld_cache_flags: Some(0x0a00),
        buildable: true,
        ..target("arm64", None, "arm64", "aarch64-linux-gnu", "aarch64")
    },
    Target {
        rust_arch: Some("arm"),
        llvm_triple: Some("armv7-unknown-linux-gnueabihf"),
        manylinux_oldest_glibc_minor: Some(17),
        elf: Some(Elf {
            machine: em::EM_ARM,
            class64: false,
            at_platform: "v7l",
        }),
        glibc_loader: Some(Loader {
            name: "ld-linux-armhf.so.3",
            path: "/lib/ld-linux-armhf.so.3",
        }),
        musl_loader: Some("ld-musl-armhf.so.1"),
        ld_cache_flags: Some(0x0900),
        buildable: true,
        ..target("arm", Some("v7"), "armhf", "arm-linux-gnueabihf", "armv7l")
    },
    Target {
        rust_arch: Some("x86"),
        manylinux_oldest_glibc_minor: Some(5),
        elf: Some(Elf {
            machine: em::EM_386,
            class64: false,
            at_platform: "i686",
        }),
        glibc_loader: Some(Loader {
            name: "ld-linux.so.2",
            path: "/lib/ld-linux.so.2",
        }),
        ..target("386", None, "i386", "i386-linux-gnu", "i686")
    },
    target("arm", Some("v5"), "armel", "arm-linux-gnueabi", "armv5tel"),
    Target {
        rust_arch: Some("powerpc64"),
        ..target(
            "ppc64le",
            None,
            "ppc64el",
            "powerpc64le-linux-gnu",
            "ppc64le",
        )
    },
    Target {
        rust_arch: Some("s390x"),
        ..target("s390x", None, "s390x", "s390x-linux-gnu", "s390x")
    },
    target(
        "mips64le",
        None,
        "mips64el",
        "mips64el-linux-gnuabi64",
        "mips64",
    ),
    target("mipsle", None, "mipsel", "mipsel-linux-gnu", "mips"),
    Target {
        rust_arch: Some("riscv64"),
        ..target("riscv64", None, "riscv64", "riscv64-linux-gnu", "riscv64")
    },
    Target {
        rust_arch: Some("loongarch64"),
        ..target(
            "loong64",
            None,
            "loong64",
            "loongarch64-linux-gnu",
            "loongarch64",
        )
    },
    // x32 has no OCI name of its own; it is never looked up by one.
    target("", None, "x32", "x86_64-linux-gnux32", "x86_64"),
];

/// The architectures lockship builds images for.
pub fn buildable() -> impl Iterator<Item = &'static Target> {
    TARGETS.iter().filter(|t| t.buildable)
}

/// The architecture with this Debian name (`armhf`).
pub fn by_debian_arch(debian_arch: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.debian_arch == debian_arch)
}

/// The architecture of an OCI platform. A missing variant matches the
/// architecture's own (`arm` is `arm/v7`), and `arm64/v8` is `arm64`;
/// `arm/v6` is Debian's `armel`, as `arm/v5` is.
pub fn by_oci(architecture: &str, variant: Option<&str>) -> Option<&'static Target> {
    if architecture.is_empty() {
        return None;
    }
    let variant = match (architecture, variant) {
        ("arm64", Some("v8")) => None,
        ("arm", None) => Some("v7"),
        ("arm", Some("v6")) => Some("v5"),
        (_, variant) => variant,
    };
    TARGETS
        .iter()
        .find(|t| t.oci_architecture == architecture && t.oci_variant == variant)
}

/// The architecture of binaries with this ELF `e_machine` and class.
pub fn by_elf(machine: u16, class64: bool) -> Option<&'static Target> {
    TARGETS.iter().find(|t| {
        t.elf
            .is_some_and(|elf| elf.machine == machine && elf.class64 == class64)
    })
}

/// The architecture a wheel platform tag names (`x86_64`, `aarch64`, `armv7l`).
pub fn by_machine(machine: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.machine == machine)
}

/// The architecture of a host whose Rust `std::env::consts::ARCH` is `arch`.
pub fn by_rust_arch(arch: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.rust_arch == Some(arch))
}

/// The architecture of the machine this program runs on, if known.
pub fn host() -> Option<&'static Target> {
    by_rust_arch(std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_per_world() {
        for (i, a) in TARGETS.iter().enumerate() {
            for b in &TARGETS[i + 1..] {
                assert_ne!(a.debian_arch, b.debian_arch);
                assert_ne!(a.triplet, b.triplet);
                if !a.oci_architecture.is_empty() {
                    assert_ne!(
                        (a.oci_architecture, a.oci_variant),
                        (b.oci_architecture, b.oci_variant)
                    );
                }
                if a.rust_arch.is_some() {
                    assert_ne!(a.rust_arch, b.rust_arch);
                }
                if let (Some(x), Some(y)) = (a.elf, b.elf) {
                    assert_ne!((x.machine, x.class64), (y.machine, y.class64));
                }
            }
        }
    }

    #[test]
    fn buildable_targets_are_complete() {
        let names: Vec<String> = buildable().map(Target::oci_platform).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        for t in buildable() {
            assert!(t.elf.is_some() && t.glibc_loader.is_some(), "{t:?}");
            assert!(t.musl_loader.is_some() && t.ld_cache_flags.is_some());
            assert!(t.manylinux_oldest_glibc_minor.is_some());
            assert!(t
                .llvm_triple
                .is_some_and(|l| l.ends_with(&t.triplet[t.triplet.find('-').unwrap() + 1..])));
            let loader = t.glibc_loader.unwrap();
            assert!(loader.path.ends_with(&format!("/{}", loader.name)));
            assert_eq!(by_oci(t.oci_architecture, t.oci_variant), Some(t));
            assert_eq!(by_debian_arch(t.debian_arch), Some(t));
            assert_eq!(by_machine(t.machine), Some(t));
            let elf = t.elf.unwrap();
            assert_eq!(by_elf(elf.machine, elf.class64), Some(t));
        }
    }

    #[test]
    fn oci_lookups_normalise_like_containerd() {
        assert_eq!(by_oci("arm", None).unwrap().debian_arch, "armhf");
        assert_eq!(by_oci("arm", Some("v7")).unwrap().debian_arch, "armhf");
        assert_eq!(by_oci("arm", Some("v6")).unwrap().debian_arch, "armel");
        assert_eq!(by_oci("arm64", Some("v8")).unwrap().debian_arch, "arm64");
        assert_eq!(by_oci("386", None).unwrap().debian_arch, "i386");
        assert!(by_oci("amd64", Some("v9")).is_none());
        assert!(by_oci("mips", None).is_none());
        assert!(by_oci("", None).is_none());
    }

    #[test]
    fn only_amd64_has_lib64() {
        let with: Vec<&str> = TARGETS
            .iter()
            .filter(|t| t.has_lib64())
            .map(|t| t.debian_arch)
            .collect();
        assert_eq!(with, ["amd64"]);
    }

    #[test]
    fn host_is_known_on_the_usual_machines() {
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host().unwrap().debian_arch, "amd64");
        }
        if cfg!(target_arch = "aarch64") {
            assert_eq!(host().unwrap().debian_arch, "arm64");
        }
    }
}
