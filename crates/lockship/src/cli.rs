//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Turn a Python project into a small, secure, reproducible OCI image, without a Docker daemon.
#[derive(Debug, Parser)]
#[command(name = "lockship", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Cache directory [env: LOCKSHIP_CACHE_DIR; default: $XDG_CACHE_HOME/lockship]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print nothing but errors; `build` and `base` print one line on stdout: the pushed
    /// reference with its digest, else the loaded name, else the image's digest
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print a machine-readable summary on stdout
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a distroless Python runtime image from Debian packages
    Base(BaseArgs),
    /// Build an image of a Python project from its lockfile
    Build(Box<BuildCommandArgs>),
    /// Print the ImagePlan of a project as JSON (no wheel is downloaded)
    Plan(BuildArgs),
    /// Check an image output (digests, sizes, media types, diff_ids)
    Validate(ValidateArgs),
    /// Render the project's ImagePlan as a multi-stage Dockerfile, in one of the seeds' strategies
    Dockerfile(DockerfileArgs),
    /// List the shared libraries a tree's or an image's native code needs and
    /// nothing in it provides, and the Debian packages that ship them
    Libdeps(LibdepsArgs),
    /// Measure image sizes and build times of every Dockerfile strategy beside
    /// `lockship build` (cold and warm cache); write BENCH.md, bench.json and SVG charts
    Bench(BenchArgs),
    /// Print a shell completion script: `lockship completions bash > /etc/bash_completion.d/lockship`
    Completions(CompletionsArgs),
    /// Show the cache's size by part, or prune it by last use
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print each part of the cache: entries, size, last use
    Info,
    /// Remove cache entries no build used recently (waits for running builds)
    Prune(CachePruneArgs),
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// Remove entries last used longer ago than this: `30d`, `12h`, `90m`, `2w`
    #[arg(
        long,
        value_name = "AGE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub older_than: Option<String>,
    /// Remove every entry (as `uv cache clean`)
    #[arg(long)]
    pub all: bool,
    /// Print what would be removed, and remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// The shells `lockship completions` writes scripts for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The project directories (each is copied; the originals are never modified)
    #[arg(required = true)]
    pub projects: Vec<PathBuf>,
    /// Dockerfile strategies to build [default: all of them]
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub strategies: Vec<String>,
    /// Runs per figure (interleaved across contenders)
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where BENCH.md, bench.json, the SVG charts and the work copies go
    #[arg(long, default_value = "bench", value_name = "DIR")]
    pub out: PathBuf,
    /// Package index for re-locking and the uv install step [default: discovered as for `lockship build`]
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Trust this PEM CA in the local `python:X-slim`/`python:X` stand-ins the
    /// bench makes when the engine lacks them (repeatable)
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Keep the benchmark's images in the engine afterwards
    #[arg(long)]
    pub keep_images: bool,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    /// The project directory
    #[arg(default_value = ".", required_unless_present = "list_strategies")]
    pub project: PathBuf,
    /// The strategy (see `--list-strategies`)
    #[arg(long, default_value = "recommended")]
    pub strategy: String,
    /// List the strategies and exit
    #[arg(long)]
    pub list_strategies: bool,
    /// Write `Dockerfile` and `.dockerignore` into the project instead of printing
    #[arg(long)]
    pub write: bool,
    /// Also write `compose.yaml` with the development target (implies --write)
    #[arg(long)]
    pub compose: bool,
    /// Overwrite an existing `Dockerfile`, `.dockerignore` or `compose.yaml`
    #[arg(long)]
    pub force: bool,
    /// The slim base image [default: python:X-slim]
    #[arg(long, value_name = "REF")]
    pub base_image: Option<String>,
    /// The full (builder) image [default: python:X]
    #[arg(long, value_name = "REF")]
    pub builder_image: Option<String>,
    /// Use this lockship runtime image as the final stage of `recommended` (when no
    /// system packages are needed)
    #[arg(long, value_name = "REF")]
    pub distroless_image: Option<String>,
    /// The Python version [default: chosen as for `lockship build`, from
    /// `[tool.lockship] python`, `.python-version` and `requires-python`]
    #[arg(long)]
    pub python: Option<String>,
    /// Package index inside the build [default: discovered as for `lockship build`]
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Dependency groups for the development target [default: dev, when the project has it]
    #[arg(long = "dev-group", value_name = "GROUP")]
    pub dev_groups: Vec<String>,
    /// uv version installed in builder stages
    #[arg(long, default_value = "0.9.9")]
    pub uv_version: String,
    /// Poetry version installed in builder stages
    #[arg(long, default_value = "2.5.1")]
    pub poetry_version: String,
    /// More Debian packages for building sdists, added to `[tool.lockship] build-packages`
    #[arg(long, value_name = "PKG,...", value_delimiter = ',')]
    pub build_packages: Vec<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
pub struct LibdepsArgs {
    /// A directory (a venv, or an unpacked root file system) or an image
    /// (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`)
    pub target: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// The Python whose lockship base a directory is checked against, and whose
    /// Debian suite the packages come from [default: the venv's, else 3.11]
    #[arg(long)]
    pub python: Option<String>,
    /// What a directory is checked against: `lockship` (the Python runtime base)
    /// or `none` [default: `none` for a root file system, else `lockship`]
    #[arg(long, value_name = "lockship|none")]
    pub base: Option<String>,
    /// Where a directory's files live in the image [default: /opt/venv for a venv]
    #[arg(long, value_name = "PATH")]
    pub mount_at: Option<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Layer compression.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

/// Where the runtime comes from; shared by `base`, `build` and `plan`.
#[derive(Debug, Args, Clone)]
pub struct RuntimeArgs {
    /// Target platform(s): linux/amd64, linux/arm64 or linux/arm/v7; a comma-separated
    /// list makes one image per platform under one index [default: the host's]
    #[arg(long)]
    pub platform: Option<String>,
    /// Debian mirror URL [env: LOCKSHIP_DEBIAN_MIRROR; default: the host's apt sources]
    #[arg(long, value_name = "URL")]
    pub debian_mirror: Option<String>,
    /// OpenPGP keyring that signs the suite [env: LOCKSHIP_KEYRING; default: the host's Debian archive keyring]
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Layer compression
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// Do not compile bytecode
    #[arg(long)]
    pub no_compile: bool,
}

/// Where the image goes, as `docker buildx build` names it; shared by `base` and `build`.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Name the image NAME:TAG (repeatable): in archives and layouts (the first), in the
    /// engine with --load, in the registry with --push [default: PROJECT:VERSION]
    #[arg(long, short, value_name = "NAME:TAG")]
    pub tag: Vec<String>,
    /// Where to write the image: oci:DIR, oci-archive:FILE or docker-archive:FILE (repeatable)
    #[arg(long, short, value_name = "TRANSPORT:PATH")]
    pub output: Vec<String>,
    /// Load the image into the local Docker engine under every --tag (`--load=NAME:TAG` names one more)
    #[arg(
        long,
        value_name = "NAME:TAG",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub load: Option<String>,
    /// Push every --tag to its registry; a tag without a registry goes to the default repository,
    /// REPO/NAME:TAG [env: LOCKSHIP_REPO; `[tool.lockship] repo`]. `--push=HOST[:PORT]/REPO:TAG`
    /// pushes to one more reference (repeatable)
    #[arg(
        long,
        value_name = "REF",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub push: Vec<String>,
    /// Repositories on the target registry to mount shared layers from instead of uploading them (repeatable)
    #[arg(long, value_name = "REPO")]
    pub mount_from: Vec<String>,
}

/// How registries are spoken to: pushes, and a `--base-image` pulled from one; shared by
/// `base`, `build` and `plan`.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// The registry user, as USER or HOST[:PORT]=USER; the password is read from standard
    /// input. The credentials go only to the registries pushed to, or to the one named
    /// [default: Docker's config.json, its credential helpers, then anonymous]
    #[arg(long, value_name = "[HOST=]USER")]
    pub registry_user: Option<String>,
    /// A registry spoken to over plain HTTP when HTTPS fails (loopback always may) (repeatable)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
}

/// What the image says about itself, as OCI labels (in the config, so `docker load` keeps
/// them) and annotations (in the manifest).
#[derive(Debug, Args, Clone, Default)]
pub struct MetadataArgs {
    /// Add a label to the image's config (repeatable); it wins over the labels lockship sets
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Add an annotation to the image's manifest (repeatable)
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// The `org.opencontainers.image.source` URL [default: the checkout's `origin` remote, when
    /// the project is a git checkout with a clean tree]
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// The `org.opencontainers.image.revision` [default: the checkout's commit, when its tree is clean]
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
}

/// `lockship build`: what `plan` takes, where the image goes and what it says about itself.
#[derive(Debug, Args)]
pub struct BuildCommandArgs {
    #[command(flatten)]
    pub inputs: BuildArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub metadata: MetadataArgs,
    /// Build again even if nothing changed since the last build of the same
    /// inputs (within a day, its record is reused without the network)
    #[arg(long)]
    pub refresh: bool,
}

/// What `build` and `plan` take: the project and how its image is made.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project directory (with pyproject.toml and a lockfile)
    #[arg(default_value = ".")]
    pub project: PathBuf,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Python version of the image, `3.13` or `3.13.5` [default: `[tool.lockship]
    /// python`, else `.python-version`, else the newest Debian Python that
    /// `requires-python` and the lock allow; 3.11 when nothing declares one]
    #[arg(long)]
    pub python: Option<String>,
    /// Where the Python comes from: `debian` (3.11 bookworm, 3.13 trixie) or
    /// `standalone` (python-build-standalone, any version) [default:
    /// `[tool.lockship] python-source`, else Debian where it has the version]
    #[arg(long, value_name = "debian|standalone")]
    pub python_source: Option<String>,
    /// Base URL of python-build-standalone releases (`{URL}/{tag}/{asset}`)
    /// [default: `[tool.lockship] python-mirror`, else
    /// `UV_PYTHON_INSTALL_MIRROR`, else the project's public release downloads]
    #[arg(long, value_name = "URL")]
    pub python_mirror: Option<String>,
    /// Add a dependency group (repeatable), e.g. `--with dev`
    #[arg(long = "with", value_name = "GROUP")]
    pub with: Vec<String>,
    /// Add every dependency group
    #[arg(long)]
    pub all_groups: bool,
    /// Add the project's extras (repeatable)
    #[arg(long = "extras", value_name = "EXTRA")]
    pub extras: Vec<String>,
    /// The lockfile to read [default: uv.lock, poetry.lock, pylock.toml or requirements.txt, the first found]
    #[arg(long, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// The uv workspace member to build, from the workspace root (its lock is the root's uv.lock)
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Package index (simple API) [default: [tool.lockship]/[tool.uv]/poetry sources, UV_INDEX_URL, PIP_INDEX_URL, pip.conf, pip's default]
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// The user the image runs as [default: `[tool.lockship] user`, else 65532]
    #[arg(long)]
    pub user: Option<String>,
    /// A wheel at least this large (bytes) gets a layer of its own
    /// [env: LOCKSHIP_LARGE_WHEEL_BYTES; default: 16000000]
    #[arg(long)]
    pub large_wheel_bytes: Option<u64>,
    /// At most this many large wheels get layers of their own (the largest)
    #[arg(long, default_value_t = lockship_build::DEFAULT_MAX_WHEEL_LAYERS)]
    pub max_wheel_layers: usize,
    /// Keep debug sections in the shared objects wheels build themselves (stripped by default)
    #[arg(long)]
    pub no_strip: bool,
    /// More Debian packages for building sdists (comma-separated), added to
    /// `[tool.lockship] build-packages`. Missing build packages are found by default (a table
    /// of well-known packages, the sdist's metadata, then what each failed build missed,
    /// through the suite's Contents index); `none` turns that off
    #[arg(long, value_name = "PKG,...|auto", value_delimiter = ',')]
    pub build_packages: Vec<String>,
    /// Build on this image instead of lockship's own runtime: HOST[:PORT]/REPO[:TAG][@DIGEST],
    /// oci:DIR, oci-archive:FILE or docker-archive:FILE [default: `[tool.lockship] base-image`]
    #[arg(long, value_name = "REF")]
    pub base_image: Option<String>,
    /// How registries are spoken to (the base image's, and with `build --push` the targets)
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Let `file://` URLs and path dependencies in the lock read under DIR too
    /// (repeatable); by default they may only read inside the project and the lock's directory
    #[arg(long = "allow-file-urls", value_name = "DIR")]
    pub allow_file_urls: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BaseArgs {
    /// Python version: 3.11 (Debian bookworm) or 3.13 (Debian trixie)
    #[arg(long, default_value = "3.11")]
    pub python: String,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Add busybox for a shell (for debugging)
    #[arg(long)]
    pub debug: bool,
    /// Extra Debian packages to install, with their dependencies (repeatable)
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// What to build: `distroless` (the runtime `lockship build` uses), or a local
    /// stand-in for the official `python:X-slim` (`slim`) or `python:X` (`full`)
    /// images, with a shell, apt, pip and venv (and compilers and headers in `full`)
    #[arg(long, default_value = "distroless", value_parser = ["distroless", "slim", "full"])]
    pub flavor: String,
    /// Also trust this PEM certificate authority (repeatable): it is appended to the
    /// image's CA bundle and put in /usr/local/share/ca-certificates/
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The output to check: oci:DIR, oci-archive:FILE or docker-archive:FILE
    pub image: String,
}

/// `--load NAME` and `--push REF` with a space, as scripts written for
/// earlier lockship (and for `docker save`-style tools) pass them, become
/// `--load=NAME` and `--push=REF`. A following word that is a flag or an
/// existing directory is left alone, so `-t app:1 --load .` keeps `.` as the
/// project, as in `docker buildx build`.
pub fn spaced_values<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let switch = arg == "--load" || arg == "--push";
        let value = switch
            .then(|| args.peek())
            .flatten()
            .filter(|next| {
                let text = next.to_string_lossy();
                !text.starts_with('-') && !std::path::Path::new(next.as_os_str()).is_dir()
            })
            .cloned();
        match value {
            Some(value) => {
                args.next();
                let mut joined = arg.clone();
                joined.push("=");
                joined.push(value);
                out.push(joined);
            }
            None => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod spaced_tests {
    use super::spaced_values;

    fn norm(args: &[&str]) -> Vec<String> {
        spaced_values(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_name_after_load_or_push_is_its_value_but_a_directory_or_flag_is_not() {
        assert_eq!(
            norm(&[
                "lockship",
                "build",
                "proj",
                "--load",
                "app:1",
                "--cache-dir",
                "c"
            ]),
            [
                "lockship",
                "build",
                "proj",
                "--load=app:1",
                "--cache-dir",
                "c"
            ]
        );
        assert_eq!(
            norm(&["lockship", "build", "--push", "127.0.0.1:5000/a:1", "."]),
            ["lockship", "build", "--push=127.0.0.1:5000/a:1", "."]
        );
        assert_eq!(
            norm(&["lockship", "build", "-t", "app:1", "--load", "."]),
            ["lockship", "build", "-t", "app:1", "--load", "."]
        );
        assert_eq!(
            norm(&["lockship", "build", "--load", "--json", "."]),
            ["lockship", "build", "--load", "--json", "."]
        );
    }
}
