//! `lockship libdeps`: which shared libraries a tree's or an image's native code
//! needs and nothing in it provides, and which Debian packages ship them.
//! Two kinds of need, reported apart: ELF `DT_NEEDED` entries, and libraries
//! the Python code loads at run time (`ctypes`, `cffi`: `dlopen`), each with
//! the file and line that asks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use lockship_build::base as foreign;
use lockship_build::syslibs::{map_runtime_to_packages, map_to_packages, missing_libs};
use lockship_oci::Output;
use lockship_runtime::{Context, PythonRuntime};

use super::Tools;
use crate::cli::LibdepsArgs;
use crate::settings::{Environment, GlobalSettings, RuntimeSettings, DEFAULT_PYTHON};

pub fn run(args: LibdepsArgs, global: &GlobalSettings, env: &Environment) -> Result<ExitCode> {
    let tools = Tools::open(global, global.quiet || global.json || args.json)?;
    let ctx = tools.ctx();
    let runtime = RuntimeSettings::resolve(&args.runtime, env)?;
    let is_image = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| args.target.starts_with(p));
    let target = if is_image {
        image_target(&ctx, &args, &runtime)?
    } else {
        dir_target(&ctx, &args, &runtime)?
    };
    let report = lockship_elf::check(
        &target.fs,
        &lockship_elf::CheckOptions {
            scope: target.scope,
            follow_found: false,
        },
    )?;
    let missing = missing_libs(&report);
    let arch = &runtime.platform().architecture;
    let variant = runtime.platform().variant.as_deref();
    let Some(machine) = lockship_target::by_oci(arch, variant) else {
        bail!("Platform `{arch}` has no Debian architecture\nhint: pass `--platform linux/amd64` or `linux/arm64`");
    };
    let mut loads = Vec::new();
    for (at, tree) in &target.python_trees {
        let scan = lockship_elf::scan_runtime_loads(tree)?;
        loads.extend(scan.loads.into_iter().map(|mut load| {
            load.file = Path::new(at).join(&load.file);
            load
        }));
    }
    let runtime_missing = lockship_elf::resolve_runtime_loads(&target.fs, &loads, machine).missing;
    let mut result = lockship_build::Libdeps {
        scanned: report.scanned,
        ..Default::default()
    };
    if !missing.is_empty() || !runtime_missing.is_empty() {
        let python = PythonRuntime::lookup(target.python.as_deref().unwrap_or(DEFAULT_PYTHON))?;
        let options = runtime.base_options(python)?;
        let repo = lockship_runtime::open_repository(&ctx, &options)?;
        let contents = repo.contents(&tools.fetcher, &tools.cache, "main", &tools.reporter)?;
        result = map_to_packages(&contents, missing, report.scanned);
        let runtime = map_runtime_to_packages(&contents, &runtime_missing, machine.triplet)?;
        result.runtime_packages = runtime.packages;
        result.runtime_unresolved = runtime.unresolved;
    }
    lockship_fetch::Reporter::phase(&tools.reporter, "");
    let json = args.json || global.json;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_text(&result, &report);
    }
    if !json {
        for w in result.warnings() {
            eprintln!("warning: {w}");
        }
    }
    if !result.unresolved.is_empty() {
        if !json {
            eprintln!(
                "error: {} shared {} that no Debian package ships\nhint: the wheel that needs it should bundle it (auditwheel repair), or install the library in the base image",
                result.unresolved.len(),
                if result.unresolved.len() == 1 { "library is missing" } else { "libraries are missing" }
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The file system to check, what to scan in it, and its Python.
struct Target {
    fs: lockship_elf::Filesystem,
    scope: lockship_elf::Scope,
    python: Option<String>,
    /// The trees of Python code to scan for run-time loads: in-image path,
    /// host path.
    python_trees: Vec<(String, PathBuf)>,
}

/// An image, through the reader and the flattener `--base-image` uses: every
/// blob and diff_id checked, the tree unpacked once into the cache.
fn image_target(ctx: &Context, args: &LibdepsArgs, runtime: &RuntimeSettings) -> Result<Target> {
    let output: Output = args.target.parse()?;
    let pulled = foreign::pull(
        ctx,
        &foreign::BaseImageSource::Local(output),
        runtime.platform(),
        None,
    )?;
    let rootfs = foreign::unpack_tree(ctx, &pulled)?.path;
    let python = args.python.clone().or_else(|| image_python(&rootfs));
    // lockship's layout: the venv and the project; the system's own Python
    // (the standard library's `ctypes` tests) is not the application's.
    let python_trees = ["/opt/venv", "/app"]
        .iter()
        .map(|at| (at.to_string(), rootfs.join(&at[1..])))
        .filter(|(_, dir)| dir.is_dir())
        .collect();
    Ok(Target {
        fs: lockship_elf::Filesystem::new().with_root(&rootfs),
        scope: lockship_elf::Scope::Everything,
        python,
        python_trees,
    })
}

/// A directory: a venv or an app mounted over lockship's base (or nothing),
/// or a root file system.
fn dir_target(ctx: &Context, args: &LibdepsArgs, runtime: &RuntimeSettings) -> Result<Target> {
    let dir = PathBuf::from(&args.target);
    if !dir.is_dir() {
        bail!(
            "`{}` is neither a directory nor an image\nhint: pass a directory (a venv or a root file system), or an image as `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`",
            args.target
        );
    }
    let venv_python = venv_python(&dir);
    let rootfs_like = dir.join("etc/os-release").exists() || dir.join("usr/lib").is_dir();
    let python = args.python.clone().or(venv_python.clone());
    let base = args
        .base
        .clone()
        .unwrap_or_else(|| if rootfs_like { "none" } else { "lockship" }.to_string());
    let mount_at = args.mount_at.clone().unwrap_or_else(|| {
        if rootfs_like {
            "/".to_string()
        } else if venv_python.is_some() {
            "/opt/venv".to_string()
        } else {
            "/app".to_string()
        }
    });
    let mut fs = lockship_elf::Filesystem::new();
    fs = if mount_at == "/" {
        fs.with_root(&dir)
    } else {
        fs.with_mount(&mount_at, &dir)
    };
    match base.as_str() {
        "none" => {}
        "lockship" => {
            let python = PythonRuntime::lookup(python.as_deref().unwrap_or(DEFAULT_PYTHON))?;
            let options = runtime.base_options(python)?;
            let built = lockship_runtime::build_base(ctx, &options)?;
            let tree = lockship_build::base_tree(ctx, &built.image.layers[0])?;
            fs = fs.with_root(tree);
        }
        other => {
            bail!("Unknown `--base {other}`\nhint: pass `--base lockship` or `--base none`")
        }
    }
    let scope = if mount_at == "/" {
        lockship_elf::Scope::Everything
    } else {
        lockship_elf::Scope::Under(vec![PathBuf::from(&mount_at)])
    };
    let python_trees = if mount_at == "/" {
        Vec::new()
    } else {
        vec![(mount_at.clone(), dir.clone())]
    };
    Ok(Target {
        fs,
        scope,
        python,
        python_trees,
    })
}

/// The report for a person: packages, then what no package ships.
fn print_text(result: &lockship_build::Libdeps, report: &lockship_elf::Report) {
    println!("{} ELF files checked", result.scanned);
    let runtime_empty = result.runtime_packages.is_empty() && result.runtime_unresolved.is_empty();
    if result.packages.is_empty() && result.unresolved.is_empty() && runtime_empty {
        println!("nothing missing");
    }
    let print_lib = |lib: &lockship_build::MissingLib| {
        println!("  {}", lib.soname);
        for file in &lib.needed_by {
            println!("    needed by {file}");
        }
    };
    for (package, libs) in &result.packages {
        println!("{package}");
        libs.iter().for_each(print_lib);
    }
    if !result.unresolved.is_empty() {
        println!("unresolved (no package ships them)");
        result.unresolved.iter().for_each(print_lib);
    }
    if !runtime_empty {
        println!("loaded at run time (dlopen)");
    }
    let print_need = |need: &lockship_build::syslibs::RuntimeNeed| {
        let optional = if need.optional { " (optional)" } else { "" };
        println!("    {}{optional}", need.name);
        println!("      asked by {}", need.asked_by);
    };
    for (package, needs) in &result.runtime_packages {
        println!("  {package}");
        needs.iter().for_each(print_need);
    }
    if !result.runtime_unresolved.is_empty() {
        println!("  not added (no package ships them, or optional)");
        result.runtime_unresolved.iter().for_each(print_need);
    }
    for w in &report.warnings {
        eprintln!("warning: {}: {}", w.path.display(), w.message);
    }
}

/// The `X.Y` of a venv's `pyvenv.cfg`.
fn venv_python(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("pyvenv.cfg")).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        let k = k.trim();
        (k == "version" || k == "version_info").then(|| {
            let mut parts = v.trim().split('.');
            format!(
                "{}.{}",
                parts.next().unwrap_or("3"),
                parts.next().unwrap_or("11")
            )
        })
    })
}

/// The Python of an unpacked lockship image (its venv's pyvenv.cfg, or /usr/bin/python3.X).
fn image_python(rootfs: &Path) -> Option<String> {
    let bin = std::fs::read_dir(rootfs.join("usr/bin")).ok()?;
    let mut versions: Vec<String> = bin
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            let v = n.strip_prefix("python")?;
            (v.matches('.').count() == 1 && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| v.to_string())
        })
        .collect();
    versions.sort();
    versions.pop()
}
