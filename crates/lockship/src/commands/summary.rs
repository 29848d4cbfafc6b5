//! What `lockship build` built, as one typed [`BuildSummary`]: printed as
//! JSON with `--json` (the benchmark harness reads it back), else as lines
//! for a person.

use anyhow::Result;
use lockship_bench::{
    AddedBuildPackage, BaseImageSummary, BuildSummary, BuiltWheelSummary, CachedLayer,
    LayerSummary, LibdepsSummary, MissingLibSummary, PlatformSummary, RuntimeNeedSummary,
    StrippedSummary, WheelSummary, Written,
};
use lockship_build::BuiltImage;

use super::output::{describe_written, human};

/// The summary of the images of one build; the first is the one described.
pub fn of(all: &[BuiltImage], tag: &str, seconds: f64, outputs: Vec<Written>) -> BuildSummary {
    let built = &all[0];
    let layers = &built.image.layers;
    BuildSummary {
        digest: built.image.digest(),
        platforms: all.iter().map(platform_of).collect(),
        tag: tag.to_string(),
        project: built.plan.project.clone(),
        platform: built.plan.base.platform.clone(),
        python: built.plan.python_full_version.clone(),
        python_choice: built.plan.python.as_ref().map(|c| c.reason.clone()),
        base_image: built.plan.base_image.as_ref().map(|f| BaseImageSummary {
            source: f.source.clone(),
            manifest_digest: f.manifest_digest.clone(),
            python: f.python.clone(),
            prefix: f.prefix.clone(),
            python_version: f.python_version.clone(),
            python_full_version: f.python_full_version.clone(),
            libc: f.libc.clone(),
            os: f.os.clone(),
            suite: f.suite.clone(),
            debian_python: f.debian_python,
            path_var: f.path_var.clone(),
            has_ca_bundle: f.has_ca_bundle,
        }),
        warnings: built
            .plan
            .warnings
            .iter()
            .cloned()
            .chain(built.libdeps.warnings())
            .collect(),
        lockfile: built.plan.lock_kind.file_name().to_string(),
        compressed_bytes: layers.iter().map(|l| l.size).sum(),
        uncompressed_bytes: layers.iter().map(|l| l.uncompressed_size).sum(),
        layers: layers
            .iter()
            .map(|l| LayerSummary {
                digest: l.digest.to_string(),
                size: l.size,
                uncompressed_size: l.uncompressed_size,
            })
            .collect(),
        cached: built
            .cached
            .iter()
            .map(|(layer, cached)| CachedLayer {
                layer: layer.clone(),
                cached: *cached,
            })
            .collect(),
        wheels: built
            .plan
            .wheels
            .iter()
            .map(|w| WheelSummary {
                name: w.name.to_string(),
                version: w.version.to_string(),
                filename: w.filename.to_string(),
            })
            .collect(),
        libdeps: libdeps_of(&built.libdeps),
        system_packages: built
            .system_packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect(),
        built_wheels: built
            .built_wheels
            .iter()
            .map(|b| BuiltWheelSummary {
                package: b.package.clone(),
                version: b.version.clone(),
                sdist: b.sdist.clone(),
                wheel: b.filename.clone(),
                sha256: b.sha256.clone(),
                cached: b.cached,
                build_packages: b.build_packages.clone(),
                added_build_packages: b
                    .added_packages
                    .iter()
                    .map(|a| AddedBuildPackage {
                        package: a.package.clone(),
                        by: serde_json::to_value(a.by)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        wanted: a.wanted.clone(),
                        line: a.line.clone(),
                    })
                    .collect(),
                build_seconds: b.build_seconds,
            })
            .collect(),
        stripped: StrippedSummary {
            files: built.stripped.files,
            bytes_before: built.stripped.bytes_before,
            bytes_after: built.stripped.bytes_after,
        },
        seconds,
        outputs,
    }
}

fn platform_of(b: &BuiltImage) -> PlatformSummary {
    PlatformSummary {
        platform: b.plan.base.platform.clone(),
        digest: b.image.digest(),
        compressed_bytes: b.image.layers.iter().map(|l| l.size).sum(),
        wheels: b
            .plan
            .wheels
            .iter()
            .map(|w| w.filename.to_string())
            .collect(),
    }
}

fn libdeps_of(libdeps: &lockship_build::Libdeps) -> LibdepsSummary {
    let need = |n: &lockship_build::syslibs::RuntimeNeed| RuntimeNeedSummary {
        name: n.name.clone(),
        asked_by: n.asked_by.clone(),
        optional: n.optional,
    };
    let lib = |l: &lockship_build::MissingLib| MissingLibSummary {
        soname: l.soname.clone(),
        needed_by: l.needed_by.clone(),
    };
    LibdepsSummary {
        packages: libdeps
            .packages
            .iter()
            .map(|(package, libs)| (package.clone(), libs.iter().map(lib).collect()))
            .collect(),
        unresolved: libdeps.unresolved.iter().map(lib).collect(),
        scanned: libdeps.scanned,
        runtime_packages: libdeps
            .runtime_packages
            .iter()
            .map(|(package, needs)| (package.clone(), needs.iter().map(need).collect()))
            .collect(),
        runtime_unresolved: libdeps.runtime_unresolved.iter().map(need).collect(),
    }
}

/// `--json`: through a JSON value, so every object's keys come out sorted.
pub fn print_json(summary: &BuildSummary) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::to_value(summary)?)?
    );
    Ok(())
}

/// The lines a person reads on stderr.
pub fn print_human(s: &BuildSummary) {
    let rebuilt: Vec<&str> = s
        .cached
        .iter()
        .filter(|c| !c.cached)
        .map(|c| c.layer.as_str())
        .collect();
    eprintln!(
        "Built {} ({} wheels from {}, Python {}, {}): {} compressed, {} uncompressed, in {:.1}s; rebuilt layers: {}",
        s.project,
        s.wheels.len(),
        s.lockfile,
        s.python,
        s.platform,
        human(s.compressed_bytes),
        human(s.uncompressed_bytes),
        s.seconds,
        if rebuilt.is_empty() { "none".to_string() } else { rebuilt.join(", ") }
    );
    if let Some(reason) = &s.python_choice {
        eprintln!("  {reason}");
    }
    if let Some(f) = &s.base_image {
        eprintln!(
            "  on {} ({}, Python {} at {}, {})",
            f.source, f.os, f.python_full_version, f.python, f.libc
        );
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    for b in &s.built_wheels {
        eprintln!(
            "  built {} from {} ({}, sha256 {})",
            b.wheel,
            b.sdist,
            if b.cached {
                "cached".to_string()
            } else {
                format!("{:.1}s", b.build_seconds)
            },
            &b.sha256[..16]
        );
        for a in &b.added_build_packages {
            eprintln!(
                "    build package {} added for {} ({})",
                a.package, a.wanted, a.line
            );
        }
        if !b.added_build_packages.is_empty() {
            let names: Vec<String> = b
                .build_packages
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect();
            eprintln!(
                "    pin them: build-packages = [{}] under [tool.lockship]",
                names.join(", ")
            );
        }
    }
    for (package, libs) in &s.libdeps.packages {
        let sonames: Vec<&str> = libs.iter().map(|l| l.soname.as_str()).collect();
        eprintln!("  libdeps: {package} ({})", sonames.join(", "));
    }
    for (package, needs) in &s.libdeps.runtime_packages {
        let names: Vec<String> = needs
            .iter()
            .map(|n| format!("{} at {}", n.name, n.asked_by))
            .collect();
        eprintln!("  loaded at run time: {package} ({})", names.join(", "));
    }
    if s.stripped.files > 0 {
        eprintln!(
            "  stripped {} shared objects, {} saved",
            s.stripped.files,
            human(
                s.stripped
                    .bytes_before
                    .saturating_sub(s.stripped.bytes_after)
            )
        );
    }
    if !s.system_packages.is_empty() {
        let names: Vec<&str> = s
            .system_packages
            .iter()
            .map(|p| p.split_once('=').map_or(p.as_str(), |(name, _)| name))
            .collect();
        eprintln!(
            "  system libraries layer: {} packages ({})",
            names.len(),
            names.join(" ")
        );
    }
    eprintln!("  digest {}", s.digest);
    for p in s.platforms.iter().skip(1) {
        eprintln!(
            "  also {}: {} compressed, digest {}",
            p.platform,
            human(p.compressed_bytes),
            p.digest
        );
    }
    for w in &s.outputs {
        eprintln!("  {}", describe_written(w));
    }
}
