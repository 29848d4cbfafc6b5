//! Target platforms (`linux/amd64`, `linux/arm64`, `linux/arm/v7`).

use std::fmt;
use std::str::FromStr;

use crate::OciError;

/// The platforms lockship can build for, as accepted by [`Platform::from_str`].
pub const SUPPORTED: &[&str] = &[
    "linux/amd64",
    "linux/arm64",
    "linux/arm64/v8",
    "linux/arm/v7",
];

/// An OCI platform: operating system, architecture and optional variant.
///
/// Parsing normalises like containerd does: `linux/arm64/v8` becomes `linux/arm64`
/// (v8 is the only arm64 variant), and `linux/arm` becomes `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// Operating system, as in the OCI config (`linux`).
    pub os: String,
    /// Architecture, as in the OCI config (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// Architecture variant (`v7` for `arm`), if any.
    pub variant: Option<String>,
}

impl Platform {
    fn new(architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// `linux/amd64`.
    pub fn linux_amd64() -> Platform {
        Platform::new("amd64", None)
    }

    /// `linux/arm64`.
    pub fn linux_arm64() -> Platform {
        Platform::new("arm64", None)
    }

    /// `linux/arm/v7`.
    pub fn linux_arm_v7() -> Platform {
        Platform::new("arm", Some("v7"))
    }

    /// The row of the target table ([`lockship_target::TARGETS`]) for
    /// this platform, if lockship knows its architecture.
    pub fn target(&self) -> Option<&'static lockship_target::Target> {
        if self.os != "linux" {
            return None;
        }
        lockship_target::by_oci(&self.architecture, self.variant.as_deref())
    }

    /// The Debian architecture name for this platform: `amd64`, `arm64` or
    /// `armhf`, from the target table.
    ///
    /// Unknown architectures are returned as they are.
    pub fn debian_arch(&self) -> &str {
        match lockship_target::by_oci(&self.architecture, self.variant.as_deref()) {
            Some(target) => target.debian_arch,
            None => &self.architecture,
        }
    }

    /// The Linux platform matching the machine this program runs on.
    ///
    /// Architectures without an OCI name known here are returned with Rust's name for them.
    pub fn host() -> Platform {
        match lockship_target::host() {
            Some(t) if !t.oci_architecture.is_empty() => {
                Platform::new(t.oci_architecture, t.oci_variant)
            }
            _ => Platform::new(std::env::consts::ARCH, None),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = OciError;

    fn from_str(input: &str) -> Result<Platform, OciError> {
        let parts: Vec<&str> = input.trim().split('/').collect();
        // The OCI name, or the machine's (`x86_64`) or Debian's (`armhf`).
        let arch = |name: &str| {
            lockship_target::by_oci(name, None)
                .or_else(|| lockship_target::by_machine(name))
                .or_else(|| lockship_target::by_debian_arch(name))
        };
        let target = match parts.as_slice() {
            ["linux", name] => arch(name),
            ["linux", name, variant] => {
                arch(name).and_then(|t| lockship_target::by_oci(t.oci_architecture, Some(variant)))
            }
            _ => None,
        };
        let platform = target
            .filter(|t| t.buildable)
            .map(|t| Platform::new(t.oci_architecture, t.oci_variant));
        platform.ok_or_else(|| OciError::InvalidPlatform {
            input: input.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_platforms() {
        let p: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(p, Platform::linux_amd64());
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(p.debian_arch(), "amd64");

        let p: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.variant, None);
        assert_eq!(p.debian_arch(), "arm64");
        assert_eq!("linux/arm64/v8".parse::<Platform>().unwrap(), p);

        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.architecture, "arm");
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(p.debian_arch(), "armhf");

        for (alias, platform) in [
            ("linux/x86_64", Platform::linux_amd64()),
            ("linux/aarch64", Platform::linux_arm64()),
            ("linux/aarch64/v8", Platform::linux_arm64()),
            ("linux/arm", Platform::linux_arm_v7()),
            ("linux/armhf", Platform::linux_arm_v7()),
        ] {
            assert_eq!(alias.parse::<Platform>().unwrap(), platform, "{alias}");
        }
    }

    #[test]
    fn debian_arch_comes_from_the_target_table() {
        assert_eq!(Platform::new("arm", Some("v6")).debian_arch(), "armel");
        assert_eq!(Platform::new("arm", None).debian_arch(), "armhf");
        assert_eq!(Platform::new("ppc64le", None).debian_arch(), "ppc64el");
        assert_eq!(Platform::new("mips", None).debian_arch(), "mips");
        assert_eq!(
            Platform::linux_arm_v7().target().unwrap().triplet,
            "arm-linux-gnueabihf"
        );
    }

    #[test]
    fn every_supported_string_parses_and_round_trips() {
        for s in SUPPORTED {
            let p: Platform = s.parse().unwrap();
            assert_eq!(p.to_string().parse::<Platform>().unwrap(), p, "{s}");
        }
    }

    #[test]
    fn rejects_unknown_platforms_and_lists_supported_ones() {
        for bad in [
            "",
            "linux",
            "windows/amd64",
            "linux/mips",
            "linux/amd64/v9",
            "linux/arm/v6",
            "linux/386",
            "amd64",
        ] {
            let err = bad.parse::<Platform>().unwrap_err();
            assert!(matches!(err, OciError::InvalidPlatform { .. }), "{bad}");
            assert!(err.to_string().contains(&format!("`{bad}`")));
            let hint = err.hint().unwrap();
            for s in SUPPORTED {
                assert!(hint.contains(s), "{hint}");
            }
        }
    }

    #[test]
    fn host_is_linux() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host, Platform::linux_amd64());
        }
    }
}
