//! `lockship libdeps`: which shared libraries a tree's or an image's native code
//! needs and nothing in it provides, and which Debian packages ship them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use lockship_build::foreign;
use lockship_build::syslibs::{map_to_packages, missing_libs};
use lockship_fetch::{Cache, FetchOptions, Fetcher};
use lockship_oci::Output;
use lockship_runtime::{Context, PythonRuntime};

use super::build::{base_options, platforms};
use crate::cli::{GlobalArgs, LibdepsArgs};
use crate::reporter::BarReporter;
use crate::settings;

pub fn run(args: LibdepsArgs, global: &GlobalArgs) -> Result<ExitCode> {
    let cache = Cache::open(settings::cache_dir(global.cache_dir.clone())?)?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let reporter = BarReporter::new(global.quiet || global.json || args.json);
    let ctx = Context {
        fetcher: &fetcher,
        cache: &cache,
        reporter: &reporter,
    };
    let is_image = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| args.target.starts_with(p));
    // The file system to check, what to scan in it, and its Python.
    let (fs, scope, python) = if is_image {
        // The reader and the flattener `--base-image` uses: every blob and
        // diff_id checked, the tree unpacked once into the cache.
        let output: Output = args.target.parse()?;
        let platform = platforms(&args.runtime)?.remove(0);
        let pulled = foreign::pull(
            &ctx,
            &foreign::BaseImageSource::Local(output),
            &platform,
            None,
        )?;
        let rootfs = foreign::unpack_tree(&ctx, &pulled)?.path;
        let python = args.python.clone().or_else(|| image_python(&rootfs));
        (
            lockship_elf::Filesystem::new().with_root(&rootfs),
            lockship_elf::Scope::Everything,
            python,
        )
    } else {
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
                let runtime = PythonRuntime::lookup(python.as_deref().unwrap_or("3.11"))?;
                let options = base_options(runtime, &args.runtime)?;
                let built = lockship_runtime::build_base(&ctx, &options)?;
                let tree = lockship_build::base_tree(&ctx, &built.image.layers[0])?;
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
        (fs, scope, python)
    };
    let report = lockship_elf::check(
        &fs,
        &lockship_elf::CheckOptions {
            scope,
            follow_found: false,
        },
    )?;
    let missing = missing_libs(&report);
    let result = if missing.is_empty() {
        lockship_build::Libdeps {
            scanned: report.scanned,
            ..Default::default()
        }
    } else {
        let runtime = PythonRuntime::lookup(python.as_deref().unwrap_or("3.11"))?;
        let options = base_options(runtime, &args.runtime)?;
        let repo = lockship_runtime::open_repository(&ctx, &options)?;
        let contents = repo.contents(&fetcher, &cache, "main", &reporter)?;
        map_to_packages(&contents, missing, report.scanned)
    };
    lockship_fetch::Reporter::phase(&reporter, "");
    if args.json || global.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("{} ELF files checked", result.scanned);
        if result.packages.is_empty() && result.unresolved.is_empty() {
            println!("nothing missing");
        }
        for (package, libs) in &result.packages {
            println!("{package}");
            for lib in libs {
                println!("  {}", lib.soname);
                for file in &lib.needed_by {
                    println!("    needed by {file}");
                }
            }
        }
        if !result.unresolved.is_empty() {
            println!("unresolved (no package ships them)");
            for lib in &result.unresolved {
                println!("  {}", lib.soname);
                for file in &lib.needed_by {
                    println!("    needed by {file}");
                }
            }
        }
        for w in &report.warnings {
            eprintln!("warning: {}: {}", w.path.display(), w.message);
        }
    }
    if !result.unresolved.is_empty() {
        if !(args.json || global.json) {
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
