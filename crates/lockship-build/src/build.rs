//! The orchestrator: `Project → ImagePlan → fetched wheels → staged trees →
//! layers → Image`, one step per call, each step in its own module.

use std::path::PathBuf;

use lockship_layer::{LayerCache, LayerOptions};
use lockship_runtime::Context;

use crate::base::Base;
use crate::image::{describe, Added};
use crate::layers::{project, syslibs, venv, wheels, Stage};
use crate::options::{BuildOptions, BuiltImage};
use crate::plan::{choose_python, load, make_plan};
use crate::{complete, download, reach, sdists, BuildError};

/// The whole pipeline, for the platform of `options.base`.
///
/// Layers, bottom up: the base, the system libraries (when libdeps finds the
/// base lacks some, or the project asks for packages), one per large wheel,
/// the rest of the venv, the project.
pub fn build(ctx: &Context, options: &BuildOptions) -> Result<BuiltImage, BuildError> {
    let (project, lock) = load(options)?;
    let (python, options) = &choose_python(ctx, options, &project, &lock)?;
    let base = Base::for_build(ctx, options)?;
    let mut plan = make_plan(ctx, options, &project, &lock, &base, python.clone())?;
    let stage = Stage {
        ctx,
        plan: &plan,
        base: &base,
        compile: options.compile,
        strip: options.strip,
        stripped: Default::default(),
        compile_skipped: Default::default(),
        layer_options: LayerOptions {
            compression: options.base.compression,
            level: None,
            mtime: options.base.epoch,
            overrides: Default::default(),
        },
        layers: LayerCache::new(ctx.cache.root().join("layers")),
    };

    // Every wheel, hash-checked, in the content-addressed cache; sdists
    // become wheels in the sandboxed build environment (cached).
    // A workspace member's lock is the root's: its `file://` URLs may read
    // anywhere in the workspace.
    let file_roots: Vec<PathBuf> = std::iter::once(options.project_dir.clone())
        .chain(project.workspace.as_ref().map(|w| w.root.clone()))
        .chain(options.allowed_file_roots.iter().cloned())
        .collect();
    // Every source still needed answers, before any large download.
    reach::check(&reach::sources(&plan, ctx.cache))?;
    let downloaded = download::download_all(ctx, &plan.wheels, &file_roots)?;
    // The selected set satisfies each distribution's own requirements.
    let unchecked = complete::check(&complete::Inputs {
        wheels: &plan.wheels,
        git: &plan.git,
        lock: (&plan.lockfile, plan.lock_kind),
        project: &project,
        selection: &options.selection,
        env: &base.marker_env(),
        downloaded: &downloaded,
        cache: ctx.cache,
    })?;
    let built_wheels = sdists::build_sdists(ctx, options, &base, &plan, &downloaded)?;
    let links = ctx.cache.temp_dir()?;
    let named = download::link_wheels(&plan, &downloaded, &built_wheels, links.path())?;

    // Large wheels in layers of their own, then the rest of the venv.
    let large = wheels::large(&named, options.large_wheel_bytes, options.max_wheel_layers);
    let (large, rest): (Vec<_>, Vec<_>) = named
        .iter()
        .enumerate()
        .partition(|(i, _)| large.contains(i));
    let large: Vec<_> = large.into_iter().map(|(_, w)| w).collect();
    let rest: Vec<_> = rest.into_iter().map(|(_, w)| w).collect();
    let wheel_layers = wheels::build_layers(&stage, &large, links.path())?;
    let (dependencies, deps_cached) = venv::build_layer(&stage, &rest, links.path())?;

    // libdeps: the venv's native code against the base; what is missing
    // comes from the suite's packages, in a layer of its own.
    let mut venv_layers = vec![&dependencies];
    venv_layers.extend(wheel_layers.iter().map(|w| &w.layer));
    let (libdeps, syslibs) = syslibs::layer_for(&stage, &venv_layers)?;

    // The project itself.
    let scratch = ctx.cache.temp_dir()?;
    let (project_layer, project_cached) = project::build_layer(&stage, &project, scratch.path())?;
    let skipped = stage.compile_skipped.take();
    ctx.reporter.phase("");

    let built_base = base.built();
    let mut cached = vec![("base".to_string(), built_base.cached)];
    if let Some(s) = &syslibs {
        cached.push(("system libraries".to_string(), s.cached));
    }
    cached.extend(
        wheel_layers
            .iter()
            .map(|w| (format!("wheel:{}", w.name), w.cached)),
    );
    cached.push(("dependencies".to_string(), deps_cached));
    cached.push(("project".to_string(), project_cached));
    let added = Added {
        syslibs,
        wheels: wheel_layers,
        dependencies,
        project: project_layer,
    };
    let stripped = stage.stripped.get();
    let image = describe(&plan, built_base.image.clone(), &added);
    plan.warnings.extend(unchecked);
    plan.warnings
        .extend(crate::layers::skipped_warning(&skipped));
    Ok(BuiltImage {
        image,
        system_packages: added.syslibs.map(|s| s.packages).unwrap_or_default(),
        plan,
        cached,
        libdeps,
        built_wheels,
        stripped,
    })
}
