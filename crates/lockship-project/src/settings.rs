//! `[tool.lockship]` and `[tool.uv]` index settings, and the check that
//! names an unknown `[tool.lockship]` key and the key it probably meant.

use std::collections::BTreeMap;
use std::path::Path;

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
    /// Where the image's Python comes from: `debian` or `standalone`.
    pub python_source: Option<String>,
    /// The base URL of python-build-standalone releases to download from.
    pub python_mirror: Option<String>,
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
    /// The default repository, `HOST[:PORT]/NAMESPACE`: `build --push` sends a
    /// tag without a registry to `REPO/NAME:TAG` (as ko's `KO_DOCKER_REPO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
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
            python_source: None,
            python_mirror: None,
            base_image: None,
            index_url: None,
            extra_index_urls: Vec::new(),
            include_secrets: false,
            sandbox_limits: SandboxLimits::default(),
            strip: None,
            repo: None,
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

/// Keys people bring from Dockerfiles and other tools, and the
/// `[tool.lockship]` key that does the same (an edit distance cannot see these).
const ALIASES: &[(&str, &str)] = &[
    ("entrypoint", "command"),
    ("entry-point", "command"),
    ("script", "command"),
    ("run", "command"),
    ("args", "cmd"),
    ("arguments", "cmd"),
    ("expose", "ports"),
    ("port", "ports"),
    ("environment", "env"),
    ("label", "labels"),
    ("working-dir", "workdir"),
    ("working-directory", "workdir"),
    ("cwd", "workdir"),
    ("base", "base-image"),
    ("from", "base-image"),
    ("image", "base-image"),
    ("python-version", "python"),
    ("apt-packages", "system-packages"),
    ("packages", "system-packages"),
    ("index", "index-url"),
    ("extra-index-url", "extra-index-urls"),
    ("registry", "repo"),
    ("repository", "repo"),
];

/// Checks the keys of `[tool.lockship]` (and its `sandbox-limits` table)
/// in the parsed `pyproject.toml` at `path` before it is read into
/// [`LockshipSettings`], so that a misspelt key is named with the key it
/// probably meant, rather than reported as a TOML error.
pub(crate) fn check_lockship_keys(
    path: &Path,
    text: &str,
    document: &toml::Table,
) -> Result<(), crate::ProjectError> {
    let Some(toml::Value::Table(table)) = document
        .get("tool")
        .and_then(|t| t.as_table())
        .and_then(|t| t.get("lockship"))
    else {
        return Ok(());
    };
    let mut checks = vec![(LOCKSHIP, table)];
    if let Some(toml::Value::Table(limits)) = table.get("sandbox-limits") {
        checks.push((SANDBOX_LIMITS, limits));
    }
    for (name, table) in checks {
        let known = known_keys(name);
        if let Some(key) = table.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(crate::ProjectError::UnknownSetting {
                path: path.to_path_buf(),
                line: key_line(text, name, key),
                table: name,
                key: key.clone(),
                suggestion: suggest(key, known),
            });
        }
    }
    Ok(())
}

const LOCKSHIP: &str = "tool.lockship";
const SANDBOX_LIMITS: &str = "tool.lockship.sandbox-limits";

/// The keys the table `name` takes (`tool.lockship`, `tool.lockship.sandbox-limits`).
pub(crate) fn known_keys(name: &str) -> &'static [&'static str] {
    match name {
        SANDBOX_LIMITS => struct_fields::<SandboxLimits>(),
        _ => struct_fields::<LockshipSettings>(),
    }
}

/// The key of `known` that `key` probably meant: a known alias, else the
/// nearest by edit distance (after `_` becomes `-` and case is dropped),
/// when it is near enough to be a typo.
fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase().replace('_', "-");
    if let Some(k) = known.iter().find(|k| **k == key) {
        return Some(k);
    }
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == key) {
        if let Some(k) = known.iter().find(|k| *k == to) {
            return Some(k);
        }
    }
    // `memory` for `memory-mib`: the key without its unit.
    if let Some(k) = known.iter().find(|k| {
        k.strip_prefix(key.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
    }) {
        return Some(k);
    }
    known
        .iter()
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, k)| *d <= (k.len().max(key.len()) / 3).max(2))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance between two short ASCII-ish strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The 1-based line where `key` is set in the table `[name]`, when written
/// as `key = ...` under the table's header.
fn key_line(text: &str, name: &str, key: &str) -> Option<usize> {
    let header = format!("[{name}]");
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line.split('#').next().unwrap_or("").trim() == header;
            continue;
        }
        let written = line
            .strip_prefix(key)
            .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
        if inside && written.is_some_and(|rest| rest.trim_start().starts_with(['=', '.'])) {
            return Some(i + 1);
        }
    }
    None
}

/// The field names `T`'s derived `Deserialize` accepts (its serde renames
/// applied), so that the known keys are never a second list to keep in step.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Fields<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Fields<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tool: &str) -> Result<(), crate::ProjectError> {
        let text = format!("[project]\nname = 'a'\n\n[tool.lockship]\n{tool}");
        let document: toml::Table = toml::from_str(&text).unwrap();
        check_lockship_keys(Path::new("pyproject.toml"), &text, &document)
    }

    #[test]
    fn unknown_lockship_keys_name_the_key_they_probably_meant() {
        let err = check("command = ['app']\nentrypoint = ['python', '-m', 'app']\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("nknown key `entrypoint` in `[tool.lockship]`; did you mean `command`?"),
            "{text}"
        );
        assert!(text.contains("line 6"), "{text}");
        assert!(!text.contains("Invalid TOML"), "{text}");
        let hint = err.hint().unwrap();
        assert!(!hint.contains("regenerate"), "{hint}");
        assert!(hint.contains("`base-image`"), "{hint}");
        // Typos by edit distance, `_` for `-`, and sub-tables.
        let meant = |tool: &str| match check(tool).unwrap_err() {
            crate::ProjectError::UnknownSetting { suggestion, .. } => suggestion,
            other => panic!("{other:?}"),
        };
        assert_eq!(meant("comand = ['a']\n"), Some("command"));
        assert_eq!(meant("base_image = 'x'\n"), Some("base-image"));
        assert_eq!(meant("sytem-packages = ['x']\n"), Some("system-packages"));
        assert_eq!(meant("expose = [80]\n"), Some("ports"));
        assert_eq!(meant("flavour-of-the-day = 1\n"), None);
        let err = check("[tool.lockship.sandbox-limits]\nmemory = 1\n").unwrap_err();
        assert!(
            err.to_string().contains(
                "`memory` in `[tool.lockship.sandbox-limits]`; did you mean `memory-mib`?"
            ),
            "{err}"
        );
        // Every key the settings read passes.
        check("command = ['a']\ncmd = []\nports = [80]\nenv = {}\nlabels = {}\nworkdir = '/'\nuser = 'a'\nvenv = '/v'\nsystem-packages = []\nbuild-packages = []\nbuild-env = {}\npython = '3.11'\nbase-image = 'x'\nindex-url = 'http://127.0.0.1/'\nextra-index-urls = []\ninclude-secrets = false\nstrip = true\nrepo = '127.0.0.1:5000/team'\n[tool.lockship.sandbox-limits]\nprocesses = 1\n").unwrap();
    }

    #[test]
    fn the_known_keys_are_the_fields_serde_reads() {
        let fields = struct_fields::<LockshipSettings>();
        assert!(fields.contains(&"base-image"), "{fields:?}");
        assert!(fields.contains(&"sandbox-limits"), "{fields:?}");
        assert!(!fields.contains(&"base_image"), "{fields:?}");
        assert_eq!(
            struct_fields::<SandboxLimits>(),
            [
                "processes",
                "memory-mib",
                "file-size-mib",
                "cpu-seconds",
                "wall-seconds"
            ]
        );
    }

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
