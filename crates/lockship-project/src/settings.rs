//! `[tool.lockship]` and `[tool.uv]` index settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;

/// `[tool.lockship]`: how the image is built and run. Unknown keys are an error,
/// so a misspelt setting is caught rather than ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockshipSettings {
    /// The image's entrypoint (`Entrypoint`), e.g. `["python", "-m", "app"]`.
    #[serde(default)]
    pub command: Vec<String>,
    /// The image's default arguments (`Cmd`).
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Exposed ports, e.g. `8000` or `"53/udp"`.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Environment variables set in the image.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Image labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The working directory.
    pub workdir: Option<String>,
    /// The user to run as (name or uid).
    pub user: Option<String>,
    /// Where the virtual environment lives in the image.
    #[serde(default = "default_venv")]
    pub venv: String,
    /// Debian packages added to the runtime image.
    #[serde(default)]
    pub system_packages: Vec<String>,
    /// Debian packages needed only to build sdists.
    #[serde(default)]
    pub build_packages: Vec<String>,
    /// Environment variables for sdist builds (e.g. a package's build
    /// switches), in lockship's sandbox and in rendered Dockerfiles' builders.
    #[serde(default)]
    pub build_env: BTreeMap<String, String>,
    /// The Python version of the image, e.g. `3.11`.
    pub python: Option<String>,
    /// A base image to build on instead of lockship's own runtime.
    pub base_image: Option<String>,
    /// The package index to use instead of the default.
    pub index_url: Option<Url>,
    /// Further package indexes.
    #[serde(default)]
    pub extra_index_urls: Vec<Url>,
    /// Copy files that look like secrets (`.env*`, `.ssh/`, `*.pem`, … see
    /// [`crate::SECRET_PATTERNS`]) into the image. Off by default: they are
    /// skipped with a warning unless a `!` exception in `.dockerignore`
    /// names them.
    #[serde(default)]
    pub include_secrets: bool,
    /// `[tool.lockship.sandbox-limits]`: the limits of the sandbox that builds
    /// sdists and compiles bytecode. An unset field keeps lockship's default.
    #[serde(default, skip_serializing_if = "SandboxLimits::is_unset")]
    pub sandbox_limits: SandboxLimits,
    /// Strip debug sections from the shared objects wheels build themselves
    /// (unset: on; `false` is `--no-strip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip: Option<bool>,
}

/// `[tool.lockship.sandbox-limits]`: each field overrides one default limit
/// of the build sandbox (see `SECURITY.md` for the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SandboxLimits {
    /// Processes and threads the build's user may run at once.
    pub processes: Option<u64>,
    /// Address space of each process, in MiB.
    pub memory_mib: Option<u64>,
    /// The size of any file a build writes, in MiB.
    pub file_size_mib: Option<u64>,
    /// CPU time of each process, in seconds.
    pub cpu_seconds: Option<u64>,
    /// Wall time of one build or compile run, in seconds.
    pub wall_seconds: Option<u64>,
}

impl SandboxLimits {
    /// Whether no limit is set (the defaults apply).
    pub fn is_unset(&self) -> bool {
        self == &SandboxLimits::default()
    }
}

fn default_venv() -> String {
    "/opt/venv".into()
}

impl Default for LockshipSettings {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            cmd: Vec::new(),
            ports: Vec::new(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            workdir: None,
            user: None,
            venv: default_venv(),
            system_packages: Vec::new(),
            build_packages: Vec::new(),
            build_env: BTreeMap::new(),
            python: None,
            base_image: None,
            index_url: None,
            extra_index_urls: Vec::new(),
            include_secrets: false,
            sandbox_limits: SandboxLimits::default(),
            strip: None,
        }
    }
}

/// An exposed port: a number, or a string `"<number>/<tcp|udp>"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PortSpec", into = "String")]
pub struct Port {
    /// The port number.
    pub number: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PortSpec {
    Number(u16),
    Text(String),
}

impl TryFrom<PortSpec> for Port {
    type Error = String;
    fn try_from(spec: PortSpec) -> Result<Self, String> {
        match spec {
            PortSpec::Number(number) => Ok(Self {
                number,
                protocol: "tcp".into(),
            }),
            PortSpec::Text(text) => {
                let (number, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
                let number = number
                    .parse()
                    .map_err(|_| format!("`{text}` is not a port number"))?;
                if protocol != "tcp" && protocol != "udp" {
                    return Err(format!("`{text}`: the protocol must be `tcp` or `udp`"));
                }
                Ok(Self {
                    number,
                    protocol: protocol.to_string(),
                })
            }
        }
    }
}

impl From<Port> for String {
    fn from(port: Port) -> String {
        format!("{}/{}", port.number, port.protocol)
    }
}

/// `[tool.uv]` index settings (the rest of `[tool.uv]` is ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct UvConfig {
    /// `index-url` (deprecated by uv in favour of `[[tool.uv.index]]`).
    pub index_url: Option<Url>,
    /// `extra-index-url`.
    #[serde(default)]
    pub extra_index_url: Vec<Url>,
    /// `[[tool.uv.index]]`.
    #[serde(default)]
    pub index: Vec<UvIndex>,
}

/// One `[[tool.uv.index]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UvIndex {
    /// Its name, which `[tool.uv.sources]` refers to.
    pub name: Option<String>,
    /// Its URL.
    pub url: Url,
    /// Whether it replaces the default index.
    #[serde(default)]
    pub default: bool,
    /// Whether it is used only for packages that name it.
    #[serde(default)]
    pub explicit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockship_settings_parse_and_refuse_unknown_keys() {
        let s: LockshipSettings = toml::from_str(
            "command = ['python', '-m', 'app']\nports = [8000, '53/udp']\nenv = { A = '1' }\nsystem-packages = ['libpq5']\n",
        )
        .unwrap();
        assert_eq!(s.venv, "/opt/venv");
        assert_eq!(
            s.ports[1],
            Port {
                number: 53,
                protocol: "udp".into()
            }
        );
        assert_eq!(String::from(s.ports[0].clone()), "8000/tcp");
        let err = toml::from_str::<LockshipSettings>("comand = ['x']").unwrap_err();
        assert!(err.message().contains("unknown field `comand`"), "{err}");
        assert!(toml::from_str::<LockshipSettings>("ports = ['80/sctp']").is_err());
        assert!(toml::from_str::<LockshipSettings>("ports = ['http']").is_err());
        assert!(!s.include_secrets);
        let s: LockshipSettings = toml::from_str("include-secrets = true").unwrap();
        assert!(s.include_secrets);
        let s: LockshipSettings =
            toml::from_str("[sandbox-limits]\nmemory-mib = 2048\nwall-seconds = 600\n").unwrap();
        assert_eq!(s.sandbox_limits.memory_mib, Some(2048));
        assert_eq!(s.sandbox_limits.wall_seconds, Some(600));
        assert_eq!(s.sandbox_limits.processes, None);
        let err = toml::from_str::<LockshipSettings>("[sandbox-limits]\nmemory = 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `memory`"), "{err}");
        let err = toml::from_str::<LockshipSettings>("include-secret = true").unwrap_err();
        assert!(
            err.message().contains("unknown field `include-secret`"),
            "{err}"
        );
    }
}
