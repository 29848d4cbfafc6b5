use std::path::PathBuf;

use crate::reach;

/// Errors of `lockship build` and `lockship plan`.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Reading the project or its lock failed.
    #[error(transparent)]
    Project(#[from] lockship_project::ProjectError),
    /// Choosing, fetching or installing a wheel failed.
    #[error(transparent)]
    Wheel(#[from] lockship_wheel::WheelError),
    /// Assembling the base failed.
    #[error(transparent)]
    Runtime(#[from] lockship_runtime::RuntimeError),
    /// Choosing the image's Python failed (a contradiction, a version no
    /// provider has).
    #[error(transparent)]
    Python(#[from] lockship_python::PythonError),
    /// Writing a layer failed.
    #[error(transparent)]
    Layer(#[from] lockship_layer::LayerError),
    /// A download or cache step failed.
    #[error(transparent)]
    Fetch(#[from] lockship_fetch::FetchError),
    /// Building an sdist failed.
    #[error(transparent)]
    Sdist(#[from] lockship_sdist::SdistError),
    /// A Debian package has another version on one platform than on another.
    #[error("Debian package `{package}` is {} for {} but {} for {}", first.1, first.0, other.1, other.0)]
    PlatformDebsDiffer {
        /// The package.
        package: String,
        /// The first platform and its version.
        first: (String, String),
        /// The other platform and its version.
        other: (String, String),
    },
    /// The Python packages chosen differ between two platforms.
    #[error("The Python packages differ between {first} and {other}")]
    PlatformWheelsDiffer {
        /// The first platform.
        first: String,
        /// The other platform.
        other: String,
    },
    /// A Debian step (the Contents index) failed.
    #[error(transparent)]
    Debian(#[from] lockship_debian::DebianError),
    /// Scanning native code failed.
    #[error(transparent)]
    Elf(#[from] lockship_elf::ElfError),
    /// Native code needs libraries that no package of the suite ships.
    #[error("The venv's native code needs {} that no `{suite}` package ships: {}", if missing.len() == 1 { "a library" } else { "libraries" }, missing.iter().map(|m| format!("`{}` (needed by `{}`)", m.soname, m.needed_by.first().map(String::as_str).unwrap_or("?"))).collect::<Vec<_>>().join(", "))]
    UnresolvedLibraries {
        /// The sonames and who needs them.
        missing: Vec<crate::MissingLib>,
        /// The Debian suite searched.
        suite: String,
    },
    /// A build-only package (compiler, -dev) was asked for in the runtime image.
    #[error("`{package}` is a build-time package and never goes into the runtime image")]
    BuildOnlyPackage {
        /// The package.
        package: String,
    },
    /// A locked package comes from a source this build cannot use yet.
    #[error("`{package}` comes from {source_kind}, which `lockship build` does not install yet")]
    UnsupportedSource {
        /// The package.
        package: String,
        /// `a git repository`, `a local path`, `a direct URL`.
        source_kind: &'static str,
    },
    /// A git dependency's lock entry names no commit.
    #[error("The lock pins no commit for `{package}` from `{url}`")]
    GitUnpinned {
        /// The package.
        package: String,
        /// The repository.
        url: String,
    },
    /// Fetching a git dependency failed.
    #[error("Cannot fetch `{package}` from `{url}`: {output}")]
    Git {
        /// The package.
        package: String,
        /// The repository.
        url: String,
        /// What git said.
        output: String,
    },
    /// No file the index offers for the locked version has a hash the lock lists.
    #[error("Hash mismatch for `{package}` {version}: none of the index's files has one of the {lockfile_hashes} hashes the lock lists")]
    HashMismatch {
        /// The package.
        package: String,
        /// The locked version.
        version: String,
        /// How many hashes the lock lists for it.
        lockfile_hashes: usize,
    },
    /// A locked package has no version.
    #[error("The lock gives no version for `{package}`")]
    NoVersion {
        /// The package.
        package: String,
    },
    /// The index lists no hash for the chosen file and the lock has none either.
    #[error("No SHA-256 is known for `{filename}` (neither the lock nor the index lists one)")]
    NoHash {
        /// The wheel's file name.
        filename: String,
    },
    /// The project's own code could not be found or packed.
    #[error("Cannot find the code of project `{project}` in `{dir}`: {reason}")]
    ProjectCode {
        /// The project name.
        project: String,
        /// The project directory.
        dir: PathBuf,
        /// What was looked for.
        reason: String,
    },
    /// The project's own Python files do not compile (a syntax error).
    #[error("The project's own code does not compile: {files}")]
    ProjectSyntax {
        /// Each file (in-image path) and the compiler's message.
        files: String,
    },
    /// A path dependency of the lock that cannot be packed.
    #[error("Refusing the path dependency `{package}` at `{}`: {reason}", path.display())]
    PathDependency {
        /// The package.
        package: String,
        /// The path, as the lock gives it (joined to the lock's directory).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A project file or link resolves outside the project directory.
    #[error("Refusing `{}` from the project `{}`: {reason}", path.display(), project.display())]
    ProjectPath {
        /// The file or link.
        path: PathBuf,
        /// The project directory.
        project: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading a local base image failed.
    #[error(transparent)]
    Oci(#[from] lockship_oci::OciError),
    /// Pulling a base image from a registry failed.
    #[error(transparent)]
    Registry(#[from] lockship_registry::RegistryError),
    /// The base image cannot carry this build.
    #[error("The base image `{source_ref}` cannot be used: {reason}")]
    BaseImage {
        /// The `--base-image` reference.
        source_ref: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An sdist would have to be built for a base whose Python lockship cannot reproduce.
    #[error("`{package}` {version} has no wheel for the base image's Python (`{python}`, {libc}), and lockship builds sdists only against Debian's own Python")]
    SdistOnForeignBase {
        /// The package.
        package: String,
        /// Its locked version.
        version: String,
        /// The base's interpreter.
        python: String,
        /// The base's C library.
        libc: String,
    },
    /// Native code needs libraries, and the base has no Debian suite to take them from.
    #[error("The venv's native code needs {} that the base image `{source_ref}` lacks: {}", if missing.len() == 1 { "a library" } else { "libraries" }, missing.iter().map(|m| format!("`{}` (needed by `{}`)", m.soname, m.needed_by.first().map(String::as_str).unwrap_or("?"))).collect::<Vec<_>>().join(", "))]
    BaseLacksLibraries {
        /// The base image.
        source_ref: String,
        /// The sonames and who needs them.
        missing: Vec<crate::MissingLib>,
    },
    /// A direct URL of the lock comes with no hash to check its file against.
    #[error("The lock gives no SHA-256 for `{package}` from the direct URL `{url}`")]
    DirectUrlNoHash {
        /// The package.
        package: String,
        /// The URL.
        url: String,
    },
    /// A direct URL of the lock does not name a wheel or an sdist.
    #[error(
        "`{package}` comes from the direct URL `{url}`, which names no wheel or sdist: {reason}"
    )]
    DirectUrlFile {
        /// The package.
        package: String,
        /// The URL.
        url: String,
        /// What is wrong with its file name.
        reason: String,
    },
    /// The selected packages do not satisfy each other's `Requires-Dist`.
    #[error("The lock `{}` is incomplete for this target: {}", lockfile.display(), crate::complete::describe(problems))]
    IncompleteLock {
        /// The lockfile.
        lockfile: PathBuf,
        /// Its kind (for the hint's command).
        lock_kind: lockship_project::LockKind,
        /// Each requirement that nothing selected satisfies.
        problems: Vec<crate::complete::Unsatisfied>,
    },
    /// A source the build must download from does not answer.
    #[error("Cannot reach {kind} `{source_url}`, which {} need{}: {cause}", crate::reach::list(packages), if packages.len() == 1 { "s" } else { "" })]
    SourceUnreachable {
        /// `the package index`, `the host`, `the git remote`.
        kind: &'static str,
        /// The index URL, the origin of direct URLs, or the git remote.
        source_url: String,
        /// The packages that need it.
        packages: Vec<String>,
        /// What the request said.
        cause: String,
    },
    /// A file-system step failed.
    #[error("Cannot {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::Project(e) => e.hint(),
            BuildError::Wheel(e) => e.hint(),
            BuildError::Runtime(e) => e.hint(),
            BuildError::Python(e) => e.hint(),
            BuildError::UnsupportedSource { .. } => Some(
                "lock the package from an index or from git; local paths and direct URLs are not installed yet".into(),
            ),
            BuildError::GitUnpinned { .. } => Some("re-create the lock so it records the commit (`uv lock`, `poetry lock`)".into()),
            BuildError::Git { .. } => Some(
                "check that `git clone URL` works for you here: lockship uses your git credentials and SSH agent".into(),
            ),
            BuildError::HashMismatch { .. } => Some(
                "the index serves other files than the lock was made from: check `--index-url`, or re-create the lock".into(),
            ),
            BuildError::NoVersion { .. } => Some("re-create the lock (`uv lock`, `poetry lock`)".into()),
            BuildError::NoHash { .. } => Some(
                "re-create the lock with hashes (`pip-compile --generate-hashes`, `uv lock`, `poetry lock`)".into(),
            ),
            BuildError::ProjectCode { .. } => Some(
                "put the package in `src/NAME/` or `NAME/` (NAME with underscores), or list it in `[tool.poetry] packages`".into(),
            ),
            BuildError::ProjectSyntax { .. } => Some(
                "fix the file (`python -m py_compile FILE` shows the error), leave it out with a `.dockerignore` line, or pass `--no-compile`".into(),
            ),
            BuildError::PathDependency { .. } => Some(
                "a lock may only point at directories inside its own or its git work tree; pass `--allow-file-urls DIR` to allow another one, or fix the lock's `path` source".into(),
            ),
            BuildError::ProjectPath { .. } => Some(
                "lockship packs only what is inside the project directory: copy the files into the project, or leave the link out with a `.dockerignore` line".into(),
            ),
            BuildError::Io { .. } => Some("check that the disk has room and the path is readable".into()),
            BuildError::DirectUrlNoHash { .. } => Some(
                "re-create the lock with hashes (`uv lock`, `uv pip compile --generate-hashes`, `pip-compile --generate-hashes`), or add `--hash=sha256:...` (or `#sha256=...` on the URL)".into(),
            ),
            BuildError::DirectUrlFile { .. } => Some(
                "point the URL at a wheel (`.whl`) or an sdist (`name-version.tar.gz`), or lock the package from an index or from git".into(),
            ),
            BuildError::IncompleteLock { lock_kind, .. } => Some(match lock_kind {
                lockship_project::LockKind::Requirements => "re-lock with every transitive dependency pinned for this target, e.g. `uv pip compile --generate-hashes requirements.in -o requirements.txt` or `pip-compile --generate-hashes`, or add the missing pins by hand".to_string(),
                kind => format!("re-create the lock (`{}`) so it records every dependency for this target", kind.lock_command()),
            }),
            BuildError::SourceUnreachable { kind, .. } => Some(match *kind {
                reach::GIT => "check that `git ls-remote URL` works here (lockship uses your git credentials and SSH agent), or vendor the dependency as a path inside the project".to_string(),
                reach::INDEX => "check the index URL and this machine's network or proxy; pass `--index-url` for a mirror that is reachable".to_string(),
                _ => "this machine cannot reach that host: check the network or proxy, or lock the packages from an index this machine reaches".to_string(),
            }),
            BuildError::Layer(e) => e.hint(),
            BuildError::Sdist(e) => e.hint(),
            BuildError::Oci(e) => e.hint(),
            BuildError::Registry(e) => e.hint(),
            BuildError::BaseImage { .. } => Some(
                "build on an image with CPython on glibc or musl (e.g. `python:3.12-slim`), with `--python X.Y` naming its Python when it has several; without `--base-image`, lockship assembles its own runtime".into(),
            ),
            BuildError::SdistOnForeignBase { package, .. } => Some(format!(
                "lock a version of `{package}` that ships a wheel for this Python, or build on lockship's own runtime (drop `--base-image`), where sdists are built in a matching Debian environment"
            )),
            BuildError::BaseLacksLibraries { .. } => Some(
                "install those libraries in the base image, or use a Debian-based base (lockship then adds them from the suite), or drop `--base-image`".into(),
            ),
            BuildError::Debian(e) => e.hint(),
            BuildError::Elf(e) => e.hint(),
            BuildError::UnresolvedLibraries { .. } => Some(
                "a wheel links a library it does not bundle and Debian does not ship: rebuild the wheel with auditwheel, or pin a version that bundles it; `lockship libdeps` lists the files".into(),
            ),
            BuildError::BuildOnlyPackage { package } => Some(format!(
                "move `{package}` from `system-packages` to `build-packages` under [tool.lockship]; libdeps adds the run-time library (libpq5, not libpq-dev) by itself"
            )),
            BuildError::Fetch(e) => e.hint(),
            BuildError::PlatformDebsDiffer { .. } => Some(
                "the mirror is being updated; retry, or pin a snapshot mirror with `--debian-mirror`".into(),
            ),
            BuildError::PlatformWheelsDiffer { .. } => Some(
                "this is a bug in lock selection; report it with `lockship plan` of both platforms".into(),
            ),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.into();
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}
