use std::path::PathBuf;

use crate::discover::AddedPackage;

/// A file the build looked for and did not find, and who ships it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingFile {
    /// What kind of file: `header`, `library`, `program`, `pkg-config module`.
    pub kind: &'static str,
    /// Its name as the build printed it (`libpq-fe.h`, `-lpq`, `pg_config`).
    pub name: String,
    /// The Debian packages that ship it, best first (from the Contents index).
    pub packages: Vec<String>,
    /// The log line that named it.
    pub line: String,
}

/// Errors while building an sdist.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    /// The PEP 517 build failed.
    #[error(
        "Building `{package}` {version} from `{sdist}` failed{}; the last lines of its log (`{}`):\n{tail}",
        missing_summary(missing),
        log.display()
    )]
    BuildFailed {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// The sdist's file name.
        sdist: String,
        /// The end of the build log.
        tail: String,
        /// The whole log, kept in the cache.
        log: PathBuf,
        /// Files it looked for and did not find.
        missing: Vec<MissingFile>,
        /// Build packages already in the environment.
        build_packages: Vec<String>,
    },
    /// The build missed a file that no package of the suite ships.
    #[error(
        "Building `{package}` {version} needs the {kind} `{name}`, and no Debian package of `{suite}` ships it (asked for by the log line `{line}`); the last lines of its log (`{}`):\n{tail}",
        log.display()
    )]
    NoPackageShips {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// What kind of file (`header`).
        kind: &'static str,
        /// The file, as the build named it.
        name: String,
        /// The suite whose Contents index was searched.
        suite: String,
        /// The log line that named it.
        line: String,
        /// The end of the build log.
        tail: String,
        /// The whole log.
        log: PathBuf,
    },
    /// The discovery loop reached its bound.
    #[error(
        "Building `{package}` {version} still failed after {rounds} rounds of adding build packages (the bound); tried: {}; still missing: {}; the whole log: `{}`",
        tried_list(tried),
        missing_list(missing),
        log.display()
    )]
    TooManyPackageRounds {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// How many rounds ran.
        rounds: usize,
        /// Every package added, in order, with the line that asked for it.
        tried: Vec<AddedPackage>,
        /// What the last build still missed.
        missing: Vec<MissingFile>,
        /// The last build's log.
        log: PathBuf,
    },
    /// The build wrote, or tried to write, outside its build directory.
    #[error("Building `{package}` {version} tried to write `{path}`, outside its build directory; the sandbox refused")]
    Escape {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// Where it tried to write.
        path: String,
        /// The whole log.
        log: PathBuf,
    },
    /// A build requirement could not be fetched as a wheel.
    #[error("Building `{package}` {version} needs `{requirement}`, which could not be fetched as a wheel from the index: {tail}")]
    BuildRequirement {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// The requirement, as pip printed it.
        requirement: String,
        /// The end of pip's download log.
        tail: String,
    },
    /// The build kept asking for more build requirements.
    #[error("Building `{package}` {version} still lacked build requirements after {rounds} rounds of fetching: {fetched}")]
    TooManyRequirementRounds {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// How many rounds ran.
        rounds: usize,
        /// What was fetched, in order.
        fetched: String,
    },
    /// The build finished but left no wheel.
    #[error("Building `{package}` {version} produced no wheel in `{}`", dir.display())]
    NoWheel {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// Where the wheel was expected.
        dir: PathBuf,
    },
    /// No sandbox is available on this machine.
    #[error("No sandbox to build `{package}` from its sdist: `bwrap` (bubblewrap) is not on PATH")]
    NoSandbox {
        /// The package.
        package: String,
    },
    /// The sandbox stopped the build (wall-time limit) or refused a path.
    #[error("Building `{package}` {version} in the sandbox failed: {cause}")]
    Sandbox {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// What the sandbox said.
        cause: lockship_sandbox::SandboxError,
    },
    /// The sandbox itself could not start.
    #[error("The sandbox (`bwrap`) could not start: {message}")]
    SandboxFailed {
        /// What it printed.
        message: String,
    },
    /// An sdist for another architecture cannot be built here.
    #[error("`{package}` {version} has no wheel for {platform}, and its sdist cannot be built for {platform} on this {host} machine")]
    ForeignArchitecture {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// The target platform.
        platform: String,
        /// The host's Debian architecture.
        host: String,
    },
    /// A file-system step failed.
    #[error("Cannot {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Assembling the build environment failed.
    #[error(transparent)]
    Runtime(#[from] lockship_runtime::RuntimeError),
    /// A Debian step (the Contents index) failed.
    #[error(transparent)]
    Debian(#[from] lockship_debian::DebianError),
    /// A download or cache step failed.
    #[error(transparent)]
    Fetch(#[from] lockship_fetch::FetchError),
}

fn tried_list(tried: &[AddedPackage]) -> String {
    let parts: Vec<String> = tried.iter().map(AddedPackage::describe).collect();
    parts.join(", ")
}

fn missing_list(missing: &[MissingFile]) -> String {
    if missing.is_empty() {
        return "nothing the log names".to_string();
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|m| match m.packages.first() {
            Some(p) => format!("{} `{}` (shipped by `{p}`)", m.kind, m.name),
            None => format!("{} `{}`", m.kind, m.name),
        })
        .collect();
    parts.join(", ")
}

fn missing_summary(missing: &[MissingFile]) -> String {
    if missing.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|m| match m.packages.first() {
            Some(p) => format!("{} `{}` (shipped by `{p}`)", m.kind, m.name),
            None => format!("{} `{}` (no Debian package ships it)", m.kind, m.name),
        })
        .collect();
    format!(": missing {}", parts.join(", "))
}

impl SdistError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SdistError::BuildFailed {
                missing,
                build_packages,
                ..
            } => {
                let mut add: Vec<String> = missing
                    .iter()
                    .filter_map(|m| m.packages.first().cloned())
                    .filter(|p| !build_packages.contains(p))
                    .collect();
                add.sort();
                add.dedup();
                if add.is_empty() {
                    Some(
                        "read the log above; if the build needs a C library or tool, add its Debian -dev package to `build-packages` under [tool.lockship] in pyproject.toml"
                            .to_string(),
                    )
                } else {
                    let mut all = build_packages.clone();
                    all.extend(add.iter().cloned());
                    all.sort();
                    all.dedup();
                    let list: Vec<String> = all.iter().map(|p| format!("\"{p}\"")).collect();
                    Some(format!(
                        "add it to [tool.lockship] in pyproject.toml: `build-packages = [{}]`, or drop `--build-packages none` so that lockship adds {} and retries",
                        list.join(", "),
                        add.join(", ")
                    ))
                }
            }
            SdistError::NoPackageShips { kind, name, .. } => Some(format!(
                "the {kind} `{name}` must come from outside Debian: vendor it in the sdist, pin a version of the package that ships a wheel, or point the build at it with `build-env` under [tool.lockship]"
            )),
            SdistError::TooManyPackageRounds { tried, .. } => {
                let mut names: Vec<String> = tried.iter().map(|a| format!("\"{}\"", a.package)).collect();
                names.dedup();
                Some(format!(
                    "read the log; if the packages tried are right, pin them (`build-packages = [{}]` under [tool.lockship]) and add what the build still misses",
                    names.join(", ")
                ))
            }
            SdistError::Escape { .. } => Some(
                "an sdist may write only under its build directory and /tmp; fix its build script, or pin a version that ships a wheel"
                    .to_string(),
            ),
            SdistError::BuildRequirement { package, .. } => Some(format!(
                "build requirements are fetched as wheels only (`pip download --only-binary :all:`), and the build itself runs without a network; check that the index serves a wheel of it, or pin a version of `{package}` that ships a wheel"
            )),
            SdistError::TooManyRequirementRounds { package, .. } => Some(format!(
                "the build of `{package}` asks for one build requirement after another; pin a version of it that ships a wheel"
            )),
            SdistError::NoWheel { .. } => Some(
                "the package's build backend did not follow PEP 517; pin a version that ships a wheel"
                    .to_string(),
            ),
            SdistError::NoSandbox { .. } => Some(
                "install bubblewrap (`apt-get install bubblewrap`), or pin a version of the package that ships a wheel for the target".to_string(),
            ),
            SdistError::SandboxFailed { .. } => Some(
                "bubblewrap needs user namespaces: run as root, or enable them (`sysctl kernel.unprivileged_userns_clone=1`)".to_string(),
            ),
            SdistError::ForeignArchitecture { package, .. } => Some(format!(
                "build on a machine of the target architecture, or pin a version of `{package}` that ships a wheel for it"
            )),
            SdistError::Sandbox { cause, .. } => cause.hint(),
            SdistError::Runtime(e) => e.hint(),
            SdistError::Debian(e) => e.hint(),
            SdistError::Fetch(_) | SdistError::Io { .. } => None,
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> SdistError {
    let path = path.into();
    move |source| SdistError::Io {
        action,
        path,
        source,
    }
}
