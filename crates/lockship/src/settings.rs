//! Settings merged once: flags, then `[tool.lockship]` in pyproject.toml, then
//! environment variables, then defaults, into typed values the commands turn
//! into the libraries' options. The environment is read once, into
//! [`Environment`] (every variable is listed in [`crate::env_vars`]).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};
use lockship_build::base::BaseImageSource;
use lockship_layer::Compression;
use lockship_oci::Platform;
use lockship_project::{LockSelection, Project, Selection};
use lockship_runtime::{BaseOptions, PythonRuntime};
use url::Url;

use crate::cli::{BuildArgs, CompressionArg, GlobalArgs, RuntimeArgs};
use crate::env_vars;

/// The Python of an image when neither `--python` nor `[tool.lockship] python` names one.
pub const DEFAULT_PYTHON: &str = "3.11";

/// The environment variables the binary reads, read once.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `LOCKSHIP_CACHE_DIR`.
    pub cache_dir: Option<OsString>,
    /// `XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<OsString>,
    /// `HOME`.
    pub home: Option<OsString>,
    /// `LOCKSHIP_DEBIAN_MIRROR`.
    pub debian_mirror: Option<String>,
    /// `LOCKSHIP_KEYRING`.
    pub keyring: Option<OsString>,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<String>,
    /// `LOCKSHIP_LARGE_WHEEL_BYTES`.
    pub large_wheel_bytes: Option<String>,
    /// `UV_PYTHON_INSTALL_MIRROR`.
    pub python_mirror: Option<String>,
    /// `LOCKSHIP_REPO`.
    pub repo: Option<String>,
}

impl Environment {
    /// This process's environment.
    pub fn read() -> Environment {
        let text = |name| std::env::var(name).ok();
        let os = |name| std::env::var_os(name);
        Environment {
            cache_dir: os(env_vars::LOCKSHIP_CACHE_DIR),
            xdg_cache_home: os(env_vars::XDG_CACHE_HOME),
            home: os(env_vars::HOME),
            debian_mirror: text(env_vars::LOCKSHIP_DEBIAN_MIRROR),
            keyring: os(env_vars::LOCKSHIP_KEYRING),
            source_date_epoch: text(env_vars::SOURCE_DATE_EPOCH),
            large_wheel_bytes: text(env_vars::LOCKSHIP_LARGE_WHEEL_BYTES),
            python_mirror: text(env_vars::UV_PYTHON_INSTALL_MIRROR),
            repo: text(env_vars::LOCKSHIP_REPO).filter(|r| !r.trim().is_empty()),
        }
    }
}

/// What every command takes.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// Print nothing but errors.
    pub quiet: bool,
    /// Print a machine-readable summary on stdout.
    pub json: bool,
    /// `--cache-dir`, else `LOCKSHIP_CACHE_DIR`.
    cache_dir: Option<PathBuf>,
    xdg_cache_home: Option<PathBuf>,
    home: Option<PathBuf>,
}

impl GlobalSettings {
    /// Merges the global flags with the environment.
    pub fn resolve(args: &GlobalArgs, env: &Environment) -> GlobalSettings {
        GlobalSettings {
            quiet: args.quiet,
            json: args.json,
            cache_dir: args
                .cache_dir
                .clone()
                .or_else(|| env.cache_dir.clone().map(PathBuf::from)),
            xdg_cache_home: env.xdg_cache_home.clone().map(PathBuf::from),
            home: env.home.clone().map(PathBuf::from),
        }
    }

    /// Where the cache lives: `--cache-dir`, `LOCKSHIP_CACHE_DIR`, then the XDG cache dir.
    pub fn cache_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.cache_dir {
            return Ok(dir.clone());
        }
        if let Some(dir) = &self.xdg_cache_home {
            return Ok(dir.join("lockship"));
        }
        let home = self.home.as_ref().ok_or_else(|| {
            anyhow!("No cache directory: `HOME` is not set\nhint: pass `--cache-dir DIR` or set `LOCKSHIP_CACHE_DIR`")
        })?;
        Ok(home.join(".cache/lockship"))
    }
}

/// Where the runtime comes from: `base`, `build`, `plan`, `dockerfile`, `libdeps`.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// `--platform` (deduplicated, in order), else the host's.
    pub platforms: Vec<Platform>,
    /// `--debian-mirror`, else `LOCKSHIP_DEBIAN_MIRROR`; without either, the
    /// host's apt sources (read only when a base is needed).
    debian_mirror: Option<String>,
    /// `--keyring`, else `LOCKSHIP_KEYRING`, else the host's Debian archive keyring.
    pub keyring: PathBuf,
    /// `--compression`.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH` as given (checked when a base is needed).
    source_date_epoch: Option<String>,
    /// Not `--no-compile`.
    pub compile: bool,
    /// `--python-source`, else `[tool.lockship] python-source` (set by
    /// [`BuildSettings::resolve`]).
    pub python_source: Option<lockship_python::PythonSource>,
    /// `--python-mirror`, else `[tool.lockship] python-mirror`, else
    /// `UV_PYTHON_INSTALL_MIRROR`, else the public release downloads.
    pub python_mirror: lockship_python::Mirror,
}

impl RuntimeSettings {
    /// Merges the runtime flags with the environment.
    pub fn resolve(args: &RuntimeArgs, env: &Environment) -> Result<RuntimeSettings> {
        Ok(RuntimeSettings {
            platforms: platforms(args.platform.as_deref())?,
            debian_mirror: args
                .debian_mirror
                .clone()
                .or_else(|| env.debian_mirror.clone()),
            keyring: args
                .keyring
                .clone()
                .or_else(|| env.keyring.clone().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(lockship_debian::Keyring::DEFAULT_PATH)),
            compression: match args.compression {
                CompressionArg::Gzip => Compression::Gzip,
                CompressionArg::Zstd => Compression::Zstd,
            },
            source_date_epoch: env.source_date_epoch.clone(),
            compile: !args.no_compile,
            python_source: None,
            python_mirror: lockship_python::Mirror::resolve(
                None,
                None,
                env.python_mirror.as_deref(),
            )?,
        })
    }

    /// The first platform: the one `base`, `plan`, `dockerfile` and `libdeps` use.
    pub fn platform(&self) -> &Platform {
        &self.platforms[0]
    }

    /// The runtime's options for `python` on the first platform.
    pub fn base_options(&self, python: PythonRuntime) -> Result<BaseOptions> {
        let mut options = BaseOptions::new(python, self.platform().clone(), self.debian_mirror()?);
        options.keyring = self.keyring.clone();
        options.compression = self.compression;
        options.epoch = self.epoch()?;
        options.compile = self.compile;
        options.python_source = self.python_source;
        options.python_mirror = self.python_mirror.clone();
        Ok(options)
    }

    /// The Debian mirror: `--debian-mirror`, `LOCKSHIP_DEBIAN_MIRROR`, then the host's apt sources.
    fn debian_mirror(&self) -> Result<Url> {
        if let Some(text) = &self.debian_mirror {
            let text = if text.contains("://") {
                text.clone()
            } else {
                let dir = std::fs::canonicalize(text).with_context(|| {
                    format!("The Debian mirror `{text}` is neither a URL nor a directory")
                })?;
                format!("file://{}", dir.display())
            };
            return Url::parse(&text)
                .with_context(|| format!("`{text}` is not a valid Debian mirror URL"));
        }
        match lockship_debian::mirror_from_apt_sources(std::path::Path::new("/"))? {
            Some(url) => Ok(url),
            None => Err(lockship_runtime::RuntimeError::NoMirror.into()),
        }
    }

    /// `SOURCE_DATE_EPOCH`, else lockship's fixed default.
    fn epoch(&self) -> Result<u64> {
        match self.source_date_epoch.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => text.parse().with_context(|| {
                format!("`SOURCE_DATE_EPOCH` is `{text}`, not a number of seconds\nhint: unset it, or set it to e.g. `date +%s`")
            }),
            _ => Ok(lockship_runtime::DEFAULT_EPOCH),
        }
    }
}

/// The platforms of `--platform` (a comma-separated list), else the host's.
fn platforms(flag: Option<&str>) -> Result<Vec<Platform>> {
    let Some(list) = flag else {
        return Ok(vec![Platform::host()]);
    };
    let mut out: Vec<Platform> = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p: Platform = p.parse()?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        bail!(
            "`--platform` names no platform\nhint: pass e.g. `--platform linux/amd64,linux/arm64`"
        );
    }
    Ok(out)
}

/// `--python`, else `[tool.lockship] python`, as the user wrote it.
pub fn python_request(flag: Option<&str>, project: &Project) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| project.lockship.python.clone())
}

/// The Debian runtime for a request (3.11 when there is none). A version
/// Debian lacks may come from a standalone build, which the selection
/// decides: the request is only checked here, and the default suite stands in.
pub fn python_runtime(request: Option<&str>) -> Result<PythonRuntime> {
    let text = request.unwrap_or(DEFAULT_PYTHON);
    match PythonRuntime::lookup(text) {
        Ok(runtime) => Ok(runtime),
        Err(_) => {
            lockship_python::PythonRequest::parse(text, "--python")?;
            Ok(lockship_runtime::SUPPORTED[0].clone())
        }
    }
}

/// `lockship build` and `lockship plan`: every flag merged with
/// `[tool.lockship]` and the environment.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// The project directory.
    pub project_dir: PathBuf,
    /// Where the runtime comes from.
    pub runtime: RuntimeSettings,
    /// `--python`, else `[tool.lockship] python`, as written.
    pub python_request: Option<String>,
    /// The runtime's Python: the one asked for (else 3.11); with a base
    /// image, a stand-in for its Debian steps (the base brings its own).
    pub python: PythonRuntime,
    /// `--base-image`, else `[tool.lockship] base-image`.
    pub base_image: Option<BaseImageSource>,
    /// `--lockfile`, else the first lockfile found.
    pub lock: LockSelection,
    /// `--package`: the uv workspace member to build.
    pub package: Option<String>,
    /// `--with`, `--all-groups`, `--extras`.
    pub selection: Selection,
    /// `--index-url` (the library falls back to `[tool.lockship]` and discovery).
    pub index_url: Option<String>,
    /// `--user` (the library falls back to `[tool.lockship] user`).
    pub user: Option<String>,
    /// `--large-wheel-bytes`, else `LOCKSHIP_LARGE_WHEEL_BYTES`, else the default.
    pub large_wheel_bytes: u64,
    /// `--max-wheel-layers`.
    pub max_wheel_layers: usize,
    /// `--build-packages` names (added to `[tool.lockship] build-packages` by the library).
    pub build_packages: Vec<String>,
    /// Build packages found without help (the default); `--build-packages none` turns it off.
    pub auto_build_packages: bool,
    /// `--allow-file-urls`.
    pub allowed_file_roots: Vec<PathBuf>,
    /// Not `--no-strip`, else `[tool.lockship] strip`, else on.
    pub strip: bool,
    /// The default repository bare names are pushed to: `[tool.lockship] repo`,
    /// else `LOCKSHIP_REPO`.
    pub repo: Option<String>,
}

impl BuildSettings {
    /// Merges `build`'s flags, the project's `[tool.lockship]` and the environment.
    pub fn resolve(args: &BuildArgs, env: &Environment) -> Result<BuildSettings> {
        let mut runtime = RuntimeSettings::resolve(&args.runtime, env)?;
        let project = Project::load_package(&args.project, args.package.as_deref())?;
        let tool = &project.lockship;
        runtime.python_source = args
            .python_source
            .as_deref()
            .or(tool.python_source.as_deref())
            .map(str::parse)
            .transpose()?;
        runtime.python_mirror = lockship_python::Mirror::resolve(
            args.python_mirror.as_deref(),
            tool.python_mirror.as_deref(),
            env.python_mirror.as_deref(),
        )?;
        let python_request = python_request(args.python.as_deref(), &project);
        let base_image = args
            .base_image
            .clone()
            .or_else(|| project.lockship.base_image.clone())
            .map(|r| BaseImageSource::parse(&r).map_err(anyhow::Error::from))
            .transpose()?;
        let python = match &base_image {
            // A base image brings its own Python: any `--python` must match it,
            // and the Debian steps use its suite's.
            Some(_) => python_request
                .as_deref()
                .and_then(|v| PythonRuntime::lookup(v).ok())
                .unwrap_or_else(|| lockship_runtime::SUPPORTED[0].clone()),
            // A version Debian lacks may come from a standalone build: the
            // selection decides, this is only the default suite then.
            None => python_runtime(python_request.as_deref())?,
        };
        let mut build_packages = Vec::new();
        let mut auto_build_packages = true;
        for p in &args.build_packages {
            match p.trim() {
                "auto" => auto_build_packages = true,
                "none" => auto_build_packages = false,
                "" => {}
                name => build_packages.push(name.to_string()),
            }
        }
        Ok(BuildSettings {
            project_dir: args.project.clone(),
            runtime,
            python_request,
            python,
            base_image,
            lock: match &args.lockfile {
                Some(path) => LockSelection::Path(path.clone()),
                None => LockSelection::Auto,
            },
            package: args.package.clone(),
            selection: Selection {
                groups: args.with.iter().cloned().collect(),
                all_groups: args.all_groups,
                extras: args.extras.iter().cloned().collect(),
            },
            index_url: args.index_url.clone(),
            user: args.user.clone(),
            large_wheel_bytes: large_wheel_bytes(args.large_wheel_bytes, env)?,
            max_wheel_layers: args.max_wheel_layers,
            build_packages,
            auto_build_packages,
            allowed_file_roots: args.allow_file_urls.clone(),
            strip: !args.no_strip && project.lockship.strip.unwrap_or(true),
            repo: project.lockship.repo.clone().or_else(|| env.repo.clone()),
        })
    }
}

/// `--large-wheel-bytes`, else `LOCKSHIP_LARGE_WHEEL_BYTES`, else the default.
fn large_wheel_bytes(flag: Option<u64>, env: &Environment) -> Result<u64> {
    if let Some(bytes) = flag {
        return Ok(bytes);
    }
    match env.large_wheel_bytes.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => text.parse().with_context(|| {
            format!("`{}` is `{text}`, not a number of bytes\nhint: unset it, or set it to e.g. `16000000`", env_vars::LOCKSHIP_LARGE_WHEEL_BYTES)
        }),
        _ => Ok(lockship_build::DEFAULT_LARGE_WHEEL_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(cache_dir: Option<&str>) -> GlobalArgs {
        GlobalArgs {
            cache_dir: cache_dir.map(PathBuf::from),
            quiet: false,
            json: false,
        }
    }

    #[test]
    fn the_cache_dir_is_the_flag_then_the_variable_then_xdg_then_home() {
        let mut env = Environment {
            cache_dir: Some("/env-cache".into()),
            xdg_cache_home: Some("/xdg".into()),
            home: Some("/home/u".into()),
            ..Environment::default()
        };
        let dir = |args: &GlobalArgs, env: &Environment| {
            GlobalSettings::resolve(args, env).cache_dir().unwrap()
        };
        assert_eq!(dir(&global(Some("/flag")), &env), PathBuf::from("/flag"));
        assert_eq!(dir(&global(None), &env), PathBuf::from("/env-cache"));
        env.cache_dir = None;
        assert_eq!(dir(&global(None), &env), PathBuf::from("/xdg/lockship"));
        env.xdg_cache_home = None;
        assert_eq!(
            dir(&global(None), &env),
            PathBuf::from("/home/u/.cache/lockship")
        );
        env.home = None;
        let err = GlobalSettings::resolve(&global(None), &env)
            .cache_dir()
            .unwrap_err();
        assert!(err.to_string().contains("LOCKSHIP_CACHE_DIR"), "{err}");
    }

    fn runtime(platform: Option<&str>, mirror: Option<&str>) -> RuntimeArgs {
        RuntimeArgs {
            platform: platform.map(str::to_string),
            debian_mirror: mirror.map(str::to_string),
            keyring: None,
            compression: CompressionArg::Zstd,
            no_compile: true,
        }
    }

    #[test]
    fn runtime_flags_win_over_the_environment() {
        let env = Environment {
            debian_mirror: Some("http://127.0.0.1:1/env".into()),
            keyring: Some("/env/keyring.gpg".into()),
            source_date_epoch: Some(" 1700000000 ".into()),
            ..Environment::default()
        };
        let settings =
            RuntimeSettings::resolve(&runtime(None, Some("http://127.0.0.1:1/flag")), &env)
                .unwrap();
        assert_eq!(settings.platforms, [Platform::host()]);
        assert_eq!(settings.keyring, PathBuf::from("/env/keyring.gpg"));
        let python = PythonRuntime::lookup(DEFAULT_PYTHON).unwrap();
        let options = settings.base_options(python.clone()).unwrap();
        assert_eq!(options.mirror.as_str(), "http://127.0.0.1:1/flag");
        assert_eq!(options.epoch, 1_700_000_000);
        assert_eq!(options.compression, Compression::Zstd);
        assert!(!options.compile);
        let from_env = RuntimeSettings::resolve(&runtime(None, None), &env).unwrap();
        let options = from_env.base_options(python).unwrap();
        assert_eq!(options.mirror.as_str(), "http://127.0.0.1:1/env");
    }

    #[test]
    fn a_bad_epoch_names_the_variable_and_the_fix() {
        let env = Environment {
            debian_mirror: Some("http://127.0.0.1:1/debian".into()),
            source_date_epoch: Some("yesterday".into()),
            ..Environment::default()
        };
        let settings = RuntimeSettings::resolve(&runtime(None, None), &env).unwrap();
        let python = PythonRuntime::lookup(DEFAULT_PYTHON).unwrap();
        let err = settings.base_options(python).unwrap_err().to_string();
        assert!(err.contains("`SOURCE_DATE_EPOCH` is `yesterday`"), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }

    #[test]
    fn platforms_are_deduplicated_in_order_and_an_empty_list_is_refused() {
        let env = Environment::default();
        let settings = RuntimeSettings::resolve(
            &runtime(Some("linux/arm64, linux/amd64,linux/arm64/v8"), None),
            &env,
        )
        .unwrap();
        assert_eq!(
            settings.platforms,
            [Platform::linux_arm64(), Platform::linux_amd64()]
        );
        assert_eq!(settings.platform(), &Platform::linux_arm64());
        let err = RuntimeSettings::resolve(&runtime(Some(" , "), None), &env).unwrap_err();
        assert!(err.to_string().contains("names no platform"), "{err}");
    }

    #[test]
    fn large_wheel_bytes_is_the_flag_then_the_variable_then_the_default() {
        let mut env = Environment {
            large_wheel_bytes: Some("1000".into()),
            ..Environment::default()
        };
        assert_eq!(large_wheel_bytes(Some(5), &env).unwrap(), 5);
        assert_eq!(large_wheel_bytes(None, &env).unwrap(), 1000);
        env.large_wheel_bytes = Some("lots".into());
        let err = large_wheel_bytes(None, &env).unwrap_err().to_string();
        assert!(err.contains("LOCKSHIP_LARGE_WHEEL_BYTES"), "{err}");
        env.large_wheel_bytes = None;
        assert_eq!(
            large_wheel_bytes(None, &env).unwrap(),
            lockship_build::DEFAULT_LARGE_WHEEL_BYTES
        );
        // `--help` names the default.
        assert_eq!(lockship_build::DEFAULT_LARGE_WHEEL_BYTES, 16_000_000);
    }

    fn build_args(argv: &[&str]) -> BuildArgs {
        use clap::Parser as _;
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Build(args) => args.inputs,
            other => panic!("not a build: {other:?}"),
        }
    }

    fn project(tool: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            format!("[project]\nname = \"app\"\nversion = \"1.0\"\n\n[tool.lockship]\n{tool}"),
        )
        .unwrap();
        dir
    }

    #[test]
    fn python_source_and_mirror_come_from_the_flag_then_the_table_then_uv_variable() {
        let dir =
            project("python-source = 'standalone'\npython-mirror = 'http://127.0.0.1:1/tool'\n");
        let path = dir.path().to_str().unwrap();
        let env = Environment {
            python_mirror: Some("http://127.0.0.1:1/uv".into()),
            ..Environment::default()
        };
        let s = BuildSettings::resolve(&build_args(&["lockship", "build", path]), &env).unwrap();
        let source = Some(lockship_python::PythonSource::Standalone);
        assert_eq!(s.runtime.python_source, source);
        assert_eq!(s.runtime.python_mirror.base, "http://127.0.0.1:1/tool");
        let argv = [
            "lockship",
            "build",
            path,
            "--python-source",
            "debian",
            "--python-mirror",
            "http://127.0.0.1:1/flag",
        ];
        let s = BuildSettings::resolve(&build_args(&argv), &env).unwrap();
        let source = Some(lockship_python::PythonSource::Debian);
        assert_eq!(s.runtime.python_source, source);
        assert_eq!(s.runtime.python_mirror.base, "http://127.0.0.1:1/flag");
        let plain = project("");
        let path = plain.path().to_str().unwrap();
        let s = BuildSettings::resolve(&build_args(&["lockship", "build", path]), &env).unwrap();
        assert_eq!(s.runtime.python_mirror.base, "http://127.0.0.1:1/uv");
        let bad = ["lockship", "build", path, "--python-source", "conda"];
        let err = BuildSettings::resolve(&build_args(&bad), &env).unwrap_err();
        assert!(err.to_string().contains("conda"), "{err}");
    }

    #[test]
    fn build_packages_are_found_by_default_and_none_turns_it_off() {
        let dir = project("");
        let path = dir.path().to_str().unwrap();
        let env = Environment::default();
        let s = BuildSettings::resolve(&build_args(&["lockship", "build", path]), &env).unwrap();
        assert!(s.auto_build_packages);
        let args = build_args(&["lockship", "build", path, "--build-packages", "none"]);
        let s = BuildSettings::resolve(&args, &env).unwrap();
        assert!(!s.auto_build_packages);
        assert!(s.build_packages.is_empty());
    }

    #[test]
    fn tool_lockship_fills_what_the_flags_leave_out() {
        let dir = project("python = \"3.13\"\nbase-image = \"oci:base\"\n");
        let path = dir.path().to_str().unwrap();
        let env = Environment {
            large_wheel_bytes: Some("1000".into()),
            ..Environment::default()
        };
        let args = build_args(&[
            "lockship",
            "build",
            path,
            "--build-packages",
            "auto,libpq-dev",
        ]);
        let s = BuildSettings::resolve(&args, &env).unwrap();
        assert_eq!(s.python_request.as_deref(), Some("3.13"));
        assert_eq!(s.python.version, "3.13");
        assert!(
            matches!(s.base_image, Some(BaseImageSource::Local(_))),
            "{:?}",
            s.base_image
        );
        assert_eq!(s.large_wheel_bytes, 1000);
        assert!(s.auto_build_packages);
        assert_eq!(s.build_packages, ["libpq-dev"]);
        assert!(matches!(s.lock, LockSelection::Auto));

        // Flags win over the table and the environment.
        let args = build_args(&[
            "lockship",
            "build",
            path,
            "--python",
            "3.11",
            "--large-wheel-bytes",
            "7",
            "--lockfile",
            "requirements.txt",
        ]);
        let s = BuildSettings::resolve(&args, &env).unwrap();
        assert_eq!(s.python_request.as_deref(), Some("3.11"));
        assert_eq!(s.large_wheel_bytes, 7);
        assert!(matches!(s.lock, LockSelection::Path(_)));
    }

    #[test]
    fn without_a_base_image_the_python_is_looked_up_and_defaults_to_3_11() {
        let dir = project("");
        let path = dir.path().to_str().unwrap();
        let s = BuildSettings::resolve(
            &build_args(&["lockship", "build", path]),
            &Environment::default(),
        )
        .unwrap();
        assert_eq!(s.python_request, None);
        assert_eq!(s.python.version, DEFAULT_PYTHON);
        assert!(s.base_image.is_none());
        let err = BuildSettings::resolve(
            &build_args(&["lockship", "build", path, "--python", "2.7"]),
            &Environment::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("2.7"), "{err}");
    }
}
