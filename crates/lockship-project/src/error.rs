//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading a project, its lockfile, or
/// selecting the packages an image needs. Every variant names the file (and
/// where it helps, the package) involved; [`ProjectError::hint`] tells the
/// user what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// A file could not be read.
    #[error("Failed to read `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The project directory has no `pyproject.toml`.
    #[error("No `pyproject.toml` in `{}`", dir.display())]
    NoPyproject {
        /// The directory that was searched.
        dir: PathBuf,
    },
    /// A TOML file is not valid TOML, or a key has the wrong type.
    #[error("Invalid TOML in `{}`{}: {message}", path.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// What the parser said.
        message: String,
    },
    /// `[tool.lockship]` (or a table in it) has a key lockship does not read.
    #[error(
        "Unknown key `{key}` in `[{table}]`{} (`{}`{})",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default(),
        path.display(),
        line.map(|l| format!(", line {l}")).unwrap_or_default()
    )]
    UnknownSetting {
        /// The `pyproject.toml`.
        path: PathBuf,
        /// The 1-based line of the key, when it is written under the table's header.
        line: Option<usize>,
        /// The table, `tool.lockship` or `tool.lockship.sandbox-limits`.
        table: &'static str,
        /// The key as written.
        key: String,
        /// The known key it probably meant.
        suggestion: Option<&'static str>,
    },
    /// A value in a file is not what the format allows.
    #[error("Invalid `{key}` in `{}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key (or package) whose value is wrong.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A dependency specification is not a valid PEP 508 requirement.
    #[error("Invalid requirement `{requirement}` in `{}`: {message}", path.display())]
    Requirement {
        /// The file.
        path: PathBuf,
        /// The requirement as written.
        requirement: String,
        /// What the parser said.
        message: String,
    },
    /// A marker expression could not be parsed.
    #[error("Invalid marker `{marker}` for package `{package}` in `{}`: {message}", path.display())]
    Marker {
        /// The file.
        path: PathBuf,
        /// The package the marker belongs to.
        package: String,
        /// The marker as written.
        marker: String,
        /// What the parser said.
        message: String,
    },
    /// The project has no lockfile.
    #[error("No lockfile in `{}` (looked for `uv.lock`, `poetry.lock`, `pdm.lock`, `Pipfile.lock`, `pylock.toml` and requirements files)", dir.display())]
    NoLock {
        /// The project directory.
        dir: PathBuf,
        /// Whether the project is a Poetry project (changes the hint).
        poetry: bool,
    },
    /// The lockfile has a format version this crate does not read.
    #[error("Unsupported lockfile version `{version}` in `{}`", path.display())]
    UnsupportedLockVersion {
        /// The lockfile.
        path: PathBuf,
        /// The version it declares.
        version: String,
        /// The versions that are supported, for the hint.
        supported: &'static str,
    },
    /// A line of a requirements file uses an option this crate does not follow.
    #[error("Unsupported option `{option}` at line {line} of `{}`", path.display())]
    UnsupportedRequirementsOption {
        /// The requirements file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The option as written.
        option: String,
    },
    /// A line of a requirements file used as a lock does not pin one version
    /// (`==` or `===`, here or in a `-c` constraints file): installing it
    /// would need a resolution, so the image would not be reproducible.
    #[error("`{requirement}` at line {line} of `{}` is not pinned to one version", path.display())]
    UnpinnedRequirement {
        /// The requirements file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The requirement as written.
        requirement: String,
    },
    /// A requirements file includes (`-r`/`-c`) a file outside the project.
    #[error("`{}` line {line} includes `{include}`, which is outside the project directory `{}`", path.display(), project.display())]
    IncludeOutsideProject {
        /// The requirements file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The included path as written.
        include: String,
        /// The project directory includes must stay in.
        project: PathBuf,
    },
    /// A uv workspace has no member of the requested name.
    #[error("The workspace at `{}` has no member named `{package}`", root.display())]
    UnknownMember {
        /// The workspace root.
        root: PathBuf,
        /// The requested member.
        package: String,
        /// The members it has.
        known: Vec<String>,
    },
    /// The lockfile no longer matches `pyproject.toml`.
    #[error("The lockfile `{}` is out of date with `pyproject.toml`: {reason}", lockfile.display())]
    StaleLock {
        /// The lockfile.
        lockfile: PathBuf,
        /// What differs.
        reason: String,
        /// The command that refreshes the lockfile.
        hint: String,
    },
    /// A dependency is declared but the lockfile has no package of that name.
    #[error("Package `{package}` (required by `{required_by}`) is missing from `{}`", lockfile.display())]
    MissingFromLock {
        /// The lockfile.
        lockfile: PathBuf,
        /// The missing package.
        package: String,
        /// Who requires it (the project or another package).
        required_by: String,
        /// The command that refreshes the lockfile.
        lock_command: &'static str,
    },
    /// A dependency group was requested that neither the project nor the lock defines.
    #[error("Unknown dependency group `{group}` in `{}`", pyproject.display())]
    UnknownGroup {
        /// The project's `pyproject.toml`.
        pyproject: PathBuf,
        /// The requested group.
        group: String,
        /// The groups that do exist.
        known: Vec<String>,
    },
    /// An extra was requested that the project does not define.
    #[error("Unknown extra `{extra}` in `{}`", pyproject.display())]
    UnknownExtra {
        /// The project's `pyproject.toml`.
        pyproject: PathBuf,
        /// The requested extra.
        extra: String,
        /// The extras that do exist.
        known: Vec<String>,
    },
    /// PEP 735 `include-group` entries form a cycle.
    #[error("Dependency group `{group}` includes itself in `{}`", pyproject.display())]
    GroupCycle {
        /// The project's `pyproject.toml`.
        pyproject: PathBuf,
        /// A group on the cycle.
        group: String,
    },
    /// A lock entry holds a value that is not what its field allows (a path
    /// as a package name or file name, say): refused before it is used.
    #[error("Refusing package `{package}` in `{}`: its `{field}` `{value}` {reason}", path.display())]
    UnsafeLockEntry {
        /// The lockfile.
        path: PathBuf,
        /// The package, as written (escaped and shortened).
        package: String,
        /// The field (`name`, `version`, `sdist.filename`, ...).
        field: String,
        /// The value, as written (escaped and shortened).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A lockfile is larger than lockship reads.
    #[error("The lockfile `{}` is larger than {} MiB", path.display(), limit >> 20)]
    LockTooLarge {
        /// The lockfile.
        path: PathBuf,
        /// The cap, in bytes ([`crate::MAX_LOCK_BYTES`]).
        limit: u64,
    },
    /// The target environment could not be turned into a marker environment.
    #[error("Invalid Python version `{version}` for the target environment")]
    InvalidPythonVersion {
        /// The version as given.
        version: String,
    },
    /// A line of a `.dockerignore` is not a valid pattern.
    #[error("Invalid pattern `{pattern}` at line {line} of `{}`: {reason}", path.display())]
    Dockerignore {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The line as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ProjectError {
    /// What the user can do to fix this error, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoPyproject { .. } => Some(
                "run lockship in the directory that holds `pyproject.toml`, or pass it as the project path"
                    .into(),
            ),
            Self::NoLock { poetry: true, .. } => Some("run `poetry lock`".into()),
            Self::NoLock { poetry: false, .. } => Some(
                "run `uv lock` (or `poetry lock`, `pdm lock`, `pipenv lock`), or pass `--lockfile` to name a lockfile".into(),
            ),
            Self::UnsupportedLockVersion { supported, .. } => Some(format!(
                "this lockship reads {supported}; regenerate the lockfile with a matching tool version"
            )),
            Self::UnpinnedRequirement { requirement, .. } => Some(format!(
                "pin it as `name==version`, or compile the whole file with its transitive dependencies: `uv pip compile --generate-hashes requirements.in -o requirements.txt` (or `pip-compile --generate-hashes`) and lock `{requirement}` there"
            )),
            Self::UnsupportedRequirementsOption { .. } => Some(
                "generate a flat, pinned file with `uv pip compile --generate-hashes` or `pip-compile --generate-hashes`"
                    .into(),
            ),
            Self::StaleLock { hint, .. } => Some(hint.clone()),
            Self::IncludeOutsideProject { .. } => Some(
                "copy the included requirements into the project, or pass the project that holds them".into(),
            ),
            Self::UnknownMember { known, .. } => Some(known_list("workspace members", known)),
            Self::MissingFromLock { lock_command, .. } => Some(format!("run `{lock_command}`")),
            Self::UnknownGroup { known, .. } => Some(known_list("groups", known)),
            Self::UnknownExtra { known, .. } => Some(known_list("extras", known)),
            Self::Toml { .. } | Self::Invalid { .. } | Self::Requirement { .. } => {
                Some("fix the file, or regenerate it with the tool that wrote it".into())
            }
            Self::Dockerignore { .. } => Some(
                "`.dockerignore` takes Docker's patterns: `*`, `?`, `**`, `[a-z]`, `[^a-z]`, `\\` escapes and `!` exceptions; fix or remove the line".into(),
            ),
            Self::UnsafeLockEntry { .. } => Some(
                "lockship never uses a lock value as a path; regenerate the lockfile with the tool that wrote it and check who changed this entry"
                    .into(),
            ),
            Self::LockTooLarge { .. } => Some(
                "no real lockfile is this large; check that `--lockfile` names a lockfile, and regenerate it"
                    .into(),
            ),
            Self::UnknownSetting {
                table,
                key,
                suggestion,
                ..
            } => {
                let known: Vec<String> = crate::settings::known_keys(table)
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect();
                Some(format!(
                    "{}`[{table}]` takes {}; each is described in the README's `[tool.lockship]` table",
                    match suggestion {
                        Some(s) => format!("rename `{key}` to `{s}`, or remove it; "),
                        None => format!("remove `{key}`; "),
                    },
                    known.join(", ")
                ))
            }
            Self::InvalidPythonVersion { .. } => {
                Some("give a full Python version such as `3.11.9`".into())
            }
            Self::Io { .. } | Self::Marker { .. } | Self::GroupCycle { .. } => None,
        }
    }

    pub(crate) fn toml(path: &std::path::Path, text: &str, err: &toml::de::Error) -> Self {
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        Self::Toml {
            path: path.to_path_buf(),
            line,
            message: err.message().trim().to_string(),
        }
    }

    pub(crate) fn invalid(path: &std::path::Path, key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("the project defines no {what}")
    } else {
        let names: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        format!("the project defines these {what}: {}", names.join(", "))
    }
}

/// Read a file to a string, naming it in the error.
pub(crate) fn read(path: &std::path::Path) -> Result<String, ProjectError> {
    fs_err::read_to_string(path).map_err(|source| ProjectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Read a lockfile to a string, refusing one larger than `limit` bytes
/// before reading it whole (a device or FIFO is cut at the limit too).
pub(crate) fn read_capped(path: &std::path::Path, limit: u64) -> Result<String, ProjectError> {
    use std::io::Read;
    let io = |source| ProjectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || ProjectError::LockTooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let file = fs_err::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8: {e}"),
        ))
    })
}

/// Parse a TOML document into `T`, naming the file and line in the error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
    text: &str,
) -> Result<T, ProjectError> {
    toml::from_str(text).map_err(|e| ProjectError::toml(path, text, &e))
}
