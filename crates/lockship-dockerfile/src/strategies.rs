//! The strategies, each written as stages.
//!
//! Every strategy ends in two targets: `development` then `production`, so a
//! plain `docker build` (which builds the last stage) gives production.

use crate::doc::Doc;
use crate::install::Ctx;
use crate::{DockerfileError, LockKind, ProjectInstall, Strategy, Warning};

/// Where `layered-slim-pip-wheels` puts wheels.
const WHEELS: &str = "/wheels";
/// Where the run-time stages unpack copied wheels before installing them.
const TMP_WHEELS: &str = "/tmp/wheels";

/// Renders the Dockerfile of `ctx.strategy`.
pub(crate) fn dockerfile(ctx: &mut Ctx, needs_buildkit: bool) -> Result<String, DockerfileError> {
    let mut doc = Doc::default();
    header(ctx, &mut doc, needs_buildkit);
    match ctx.strategy {
        Strategy::BasicFull => basic(ctx, &mut doc, true),
        Strategy::BasicSlim => basic(ctx, &mut doc, false),
        Strategy::LayeredSlim | Strategy::LayeredSlimBuildkit => {
            layered(ctx, &mut doc, Layout::Layered)
        }
        Strategy::MultiLayeredSlim => layered(ctx, &mut doc, Layout::Multi),
        Strategy::Recommended => layered(ctx, &mut doc, Layout::Recommended),
        Strategy::LayeredSlimPipWheels => wheels(ctx, &mut doc)?,
    }
    Ok(doc.finish())
}

fn installer(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Uv => "uv sync --frozen",
        LockKind::Poetry => "poetry install",
        LockKind::Pylock => "uv pip install -r (pip cannot install pylock.toml)",
        LockKind::Requirements => "pip install -r",
    }
}

fn header(ctx: &Ctx, doc: &mut Doc, needs_buildkit: bool) {
    let i = ctx.i;
    let version = i
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let s = ctx.strategy;
    let mut text = format!(
        "Dockerfile for {}{version}, rendered by lockship: strategy `{}`.\n{}.\n\n",
        i.project,
        s.name(),
        s.describe()
    );
    let ssh = if ctx.ssh() { "--ssh default " } else { "" };
    let bk = if needs_buildkit {
        "DOCKER_BUILDKIT=1 "
    } else {
        ""
    };
    text.push_str(&format!(
        "Targets: production (the last stage, built by default) and development.\n\
         Build:   {bk}docker build {ssh}--target production .\n"
    ));
    if needs_buildkit {
        text.push_str(
            "Needs BuildKit for its RUN --mount lines; the engine's built-in frontend \
             reads them,\nso there is deliberately no syntax directive.\n",
        );
    }
    if ctx.ssh() {
        text.push_str(
            "Private git dependencies are fetched through the SSH agent forwarded by \
             --ssh;\nno key is ever copied into the build.\n",
        );
    }
    let how = match (s, i.lock.kind) {
        (Strategy::LayeredSlimPipWheels, LockKind::Uv) => "uv export, then pip wheel".to_string(),
        (Strategy::LayeredSlimPipWheels, LockKind::Poetry) => {
            "poetry export, then pip wheel".to_string()
        }
        (Strategy::LayeredSlimPipWheels, _) => "pip wheel -r".to_string(),
        _ => installer(i.lock.kind).to_string(),
    };
    text.push_str(&format!(
        "The lock `{}` is installed with `{how}`.\n",
        i.lock.file
    ));
    if i.lock.kind == LockKind::Poetry {
        text.push_str(
            "\nPoetry installs from the sources poetry.lock records, the \
             [[tool.poetry.source]]\nentries of pyproject.toml. It reads neither \
             PIP_INDEX_URL nor\nPOETRY_REPOSITORIES_<NAME>_URL (that configures upload \
             targets), and `poetry source add`\nhere would change pyproject.toml so \
             Poetry 2 refuses the lock as stale. An index\nwithout a JSON API must be \
             declared in pyproject.toml as a primary source before\nlocking. \
             PIP_INDEX_URL serves pip: the tools' install and the project's build.\n",
        );
    }
    doc.comment(text.trim_end());
}

/// Dev-file COPY for requirements projects, before the dev install.
fn copy_dev_file(ctx: &Ctx, doc: &mut Doc) {
    if let (LockKind::Requirements, Some(f)) = (ctx.kind(), &ctx.i.lock.dev_file) {
        doc.ins(format!("COPY {f} ./"));
    }
}

fn index_args(ctx: &Ctx, doc: &mut Doc) {
    for a in ctx.index_args() {
        doc.ins(a);
    }
}

/// `basic-full` and `basic-slim`: one stage that installs everything, with
/// build packages added and purged inside the install's RUN.
fn basic(ctx: &mut Ctx, doc: &mut Doc, full: bool) {
    let i = ctx.i;
    let image = if full {
        &i.base_images.full
    } else {
        &i.base_images.slim
    };
    doc.stage(
        image,
        "app",
        "The whole app in one stage; build packages never outlive their RUN.",
    );
    index_args(ctx, doc);
    doc.env(&ctx.builder_env());
    ctx.runtime_body(doc, true);
    let venv = ctx.venv_cmds(false);
    doc.run(&[], &venv);
    doc.env(&ctx.path_env(true));
    doc.ins(format!("WORKDIR {}", i.workdir));
    ctx.copy_lock(doc);
    let mounts = ctx.install_mounts();
    doc.run(&mounts, &ctx.purged(full, ctx.deps_cmds(false)));
    ctx.copy_source(doc, &ctx.chown());
    doc.run(&mounts, &ctx.project_cmds(false));

    doc.stage("app", "development", "Development: adds the dev groups.");
    index_args(ctx, doc);
    copy_dev_file(ctx, doc);
    doc.run(&mounts, &ctx.purged(full, ctx.deps_cmds(true)));
    doc.run(&mounts, &ctx.project_cmds(true));
    doc.env(&ctx.runtime_env(false));
    ctx.final_meta(doc, true, &i.user);

    doc.stage("app", "production", "Production.");
    doc.env(&ctx.runtime_env(false));
    ctx.final_meta(doc, false, &i.user);
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Layout {
    /// One builder; the dev builder extends it.
    Layered,
    /// A builder base, a run-time builder and a dev builder (seed 000/002).
    Multi,
    /// `recommended`: layered, with bytecode and an optional distroless run time.
    Recommended,
}

/// The venv-copying strategies: `layered-slim`, `layered-slim-buildkit`,
/// `multi-layered-slim` and `recommended`.
fn layered(ctx: &mut Ctx, doc: &mut Doc, layout: Layout) {
    let i = ctx.i;
    let rec = layout == Layout::Recommended;
    let full_builder = rec && i.needs_compiler;
    let builder_image = if full_builder {
        &i.base_images.full
    } else {
        &i.base_images.slim
    };
    let (base, why) = match layout {
        Layout::Multi => (
            "builder-base",
            "Builder base: build packages, installers, the empty venv and the lock.",
        ),
        _ if full_builder => (
            "builder",
            "Builder on the full image (a locked package builds from an sdist): the venv.",
        ),
        _ => (
            "builder",
            "Builder: the venv, with build packages that never reach the run time.",
        ),
    };
    doc.stage(builder_image, base, why);
    ctx.builder_head(doc, full_builder, false);
    let mounts = ctx.install_mounts();
    let prod_builder = if layout == Layout::Multi {
        doc.stage(
            base,
            "runtime-builder",
            "Run-time builder: production dependencies and the project.",
        );
        index_args(ctx, doc);
        "runtime-builder"
    } else {
        base
    };
    doc.run(&mounts, &ctx.deps_cmds(false));
    ctx.copy_source(doc, "");
    doc.run(&mounts, &ctx.project_cmds(false));
    if rec {
        let copied: Vec<String> = if i.project_install == ProjectInstall::Copy {
            i.source_dirs
                .iter()
                .map(|p| format!("{}/{}", i.workdir, p.trim_end_matches('/')))
                .collect()
        } else {
            Vec::new()
        };
        let copied: Vec<&str> = copied.iter().map(String::as_str).collect();
        doc.run(&[], &[ctx.compile_cmd(&copied)]);
    }

    doc.stage(
        base,
        "dev-builder",
        "Dev builder: the venv with the dev groups, the project editable.",
    );
    index_args(ctx, doc);
    copy_dev_file(ctx, doc);
    doc.run(&mounts, &ctx.deps_cmds(true));
    if layout == Layout::Multi {
        ctx.copy_source(doc, "");
    }
    doc.run(&mounts, &ctx.project_cmds(true));

    let distroless = relocated_stage(ctx, doc, rec, prod_builder);

    doc.stage(
        &i.base_images.slim,
        "runtime",
        "Run-time base: run-time libraries and the user, no build packages.",
    );
    ctx.runtime_body(doc, false);
    doc.env(&ctx.runtime_env(true));

    doc.stage(
        "runtime",
        "development",
        "Development: the dev venv; compose mounts the source over the copy.",
    );
    doc.ins(format!("COPY --from=dev-builder {v} {v}", v = i.venv));
    doc.ins(format!("WORKDIR {}", i.workdir));
    ctx.copy_source(doc, &ctx.chown());
    ctx.final_meta(doc, true, &i.user);

    production_stage(ctx, doc, rec, prod_builder, distroless.as_deref());
}

/// Picks the distroless production base (only for `recommended`, and only
/// when no run-time package is needed; otherwise a warning) and, when there
/// is one, writes the `relocated` stage that points the venv at its
/// interpreter.
fn relocated_stage(ctx: &mut Ctx, doc: &mut Doc, rec: bool, prod_builder: &str) -> Option<String> {
    let i = ctx.i;
    let distroless = match (&i.base_images.distroless, rec) {
        (Some(img), true) if i.runtime_packages.is_empty() => Some(img.clone()),
        (Some(img), true) => {
            ctx.warnings.push(Warning::DistrolessFallback {
                image: img.clone(),
                packages: i.runtime_packages.clone(),
            });
            None
        }
        _ => None,
    };
    if distroless.is_some() {
        doc.stage(
            prod_builder,
            "relocated",
            "The venv pointed at the distroless image's interpreter, /usr/bin/python3.",
        );
        let venv = &i.venv;
        doc.run(
            &[],
            &[
                format!("sed -i 's|^home = .*|home = /usr/bin|' {venv}/pyvenv.cfg"),
                format!(
                    "for n in python python3 python{}; do ln -sfn /usr/bin/python3 {venv}/bin/$n; done",
                    i.python
                ),
            ],
        );
    }
    distroless
}

/// The `production` stage: on the distroless base (from `relocated`) or on
/// `runtime` (from `prod_builder`).
fn production_stage(
    ctx: &mut Ctx,
    doc: &mut Doc,
    rec: bool,
    prod_builder: &str,
    distroless: Option<&str>,
) {
    let i = ctx.i;
    let chown = match distroless {
        Some(img) => {
            doc.stage(
                img,
                "production",
                "Production on the distroless base: no shell, so no RUN.",
            );
            doc.env(&ctx.runtime_env(true));
            if !matches!(i.user.as_str(), "65532") {
                ctx.warnings.push(Warning::DistrolessUser {
                    user: i.user.clone(),
                });
            }
            doc.ins(format!("COPY --from=relocated {v} {v}", v = i.venv));
            "--chown=65532:65532 ".to_string()
        }
        None => {
            doc.stage(
                "runtime",
                "production",
                "Production: the venv from the builder.",
            );
            doc.ins(format!("COPY --from={prod_builder} {v} {v}", v = i.venv));
            ctx.chown()
        }
    };
    doc.ins(format!("WORKDIR {}", i.workdir));
    if i.project_install == ProjectInstall::Copy {
        if rec {
            for p in &i.source_dirs {
                let p = p.trim_end_matches('/');
                doc.ins(format!(
                    "COPY --from={prod_builder} {chown}{w}/{p} ./{p}",
                    w = i.workdir
                ));
            }
        } else {
            ctx.copy_source(doc, &chown);
        }
    }
    let user = if distroless.is_some() {
        "65532".to_string()
    } else {
        i.user.clone()
    };
    ctx.final_meta(doc, false, &user);
}

/// `layered-slim-pip-wheels`: wheels built on the full image, installed
/// offline into a venv on the slim image (seed 001).
fn wheels(ctx: &mut Ctx, doc: &mut Doc) -> Result<(), DockerfileError> {
    let i = ctx.i;
    match ctx.kind() {
        LockKind::Pylock => {
            return Err(DockerfileError::LockUnsupported {
                strategy: ctx.strategy.name(),
                lock: i.lock.file.clone(),
            })
        }
        LockKind::Uv | LockKind::Poetry => ctx.warnings.push(Warning::LockExported {
            strategy: ctx.strategy.name(),
            lock: i.lock.file.clone(),
            via: if ctx.kind() == LockKind::Uv {
                "uv export"
            } else {
                "poetry export"
            },
        }),
        LockKind::Requirements => {}
    }
    doc.stage(
        &i.base_images.full,
        "wheels",
        "Wheels built on the full image, which has the compilers.",
    );
    ctx.builder_head(doc, true, true);
    let mounts = ctx.install_mounts();
    doc.run(&mounts, &ctx.wheel_cmds(false, &format!("{WHEELS}/deps")));
    ctx.copy_source(doc, "");
    if ctx.package() {
        doc.run(
            &[],
            &[format!(
                "pip wheel --no-cache-dir --no-deps --wheel-dir {WHEELS}/project ."
            )],
        );
    }

    doc.stage(
        "wheels",
        "dev-wheels",
        "Wheels of the development dependencies.",
    );
    index_args(ctx, doc);
    copy_dev_file(ctx, doc);
    doc.run(&mounts, &ctx.wheel_cmds(true, &format!("{WHEELS}/dev")));

    doc.stage(
        &i.base_images.slim,
        "runtime",
        "Run-time base: run-time libraries, the user and an empty venv.",
    );
    ctx.runtime_body(doc, false);
    doc.run(&[], &[format!("python3 -m venv {}", i.venv)]);
    doc.env(&ctx.runtime_env(true));

    let install = |dir: &str| {
        vec![
            format!("pip install --no-cache-dir --no-index --no-deps {dir}/*.whl"),
            format!("rm -rf {TMP_WHEELS}"),
        ]
    };
    doc.stage(
        "runtime",
        "development",
        "Development: the dev wheels, the project editable.",
    );
    index_args(ctx, doc);
    doc.ins(format!(
        "COPY --from=dev-wheels {WHEELS}/dev {TMP_WHEELS}/dev"
    ));
    doc.run(&[], &install(&format!("{TMP_WHEELS}/dev")));
    doc.ins(format!("WORKDIR {}", i.workdir));
    if ctx.package() {
        ctx.copy_lock(doc);
    }
    ctx.copy_source(doc, &ctx.chown());
    if ctx.package() {
        doc.run(
            &[],
            &["pip install --no-cache-dir --no-deps -e .".to_string()],
        );
    }
    ctx.final_meta(doc, true, &i.user);

    doc.stage(
        "runtime",
        "production",
        "Production: wheels installed offline; the copied wheels stay in their COPY layer.",
    );
    doc.ins(format!(
        "COPY --from=wheels {WHEELS}/deps {TMP_WHEELS}/deps"
    ));
    doc.run(&[], &install(&format!("{TMP_WHEELS}/deps")));
    if ctx.package() {
        doc.ins(format!(
            "COPY --from=wheels {WHEELS}/project {TMP_WHEELS}/project"
        ));
        doc.run(&[], &install(&format!("{TMP_WHEELS}/project")));
    }
    doc.ins(format!("WORKDIR {}", i.workdir));
    if !ctx.package() {
        ctx.copy_source(doc, &ctx.chown());
    }
    ctx.final_meta(doc, false, &i.user);
    Ok(())
}
