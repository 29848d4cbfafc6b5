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

    /// The Debian architecture name for this platform: `amd64`, `arm64` or `armhf`.
    ///
    /// Unknown architectures are returned as they are.
    pub fn debian_arch(&self) -> &str {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm", Some("v7")) | ("arm", None) => "armhf",
            ("arm", Some("v6")) | ("arm", Some("v5")) => "armel",
            (arch, _) => arch,
        }
    }

    /// The Linux platform matching the machine this program runs on.
    ///
    /// Architectures without an OCI name known here are returned with Rust's name for them.
    pub fn host() -> Platform {
        match std::env::consts::ARCH {
            "x86_64" => Platform::linux_amd64(),
            "aarch64" => Platform::linux_arm64(),
            "arm" => Platform::linux_arm_v7(),
            "x86" => Platform::new("386", None),
            "powerpc64" => Platform::new("ppc64le", None),
            "s390x" => Platform::new("s390x", None),
            "riscv64" => Platform::new("riscv64", None),
            other => Platform::new(other, None),
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
        let platform = match parts.as_slice() {
            ["linux", "amd64" | "x86_64"] => Some(Platform::linux_amd64()),
            ["linux", "arm64" | "aarch64"] | ["linux", "arm64" | "aarch64", "v8"] => {
                Some(Platform::linux_arm64())
            }
            ["linux", "arm" | "armhf"] | ["linux", "arm", "v7"] => Some(Platform::linux_arm_v7()),
            _ => None,
        };
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
