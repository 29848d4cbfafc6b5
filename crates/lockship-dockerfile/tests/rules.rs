//! Rules every rendered Dockerfile keeps, checked over every strategy and input.

mod common;

use lockship_dockerfile::{
    render, render_compose, DockerfileError, LockInput, LockKind, Strategy, Warning,
};

/// A stage: its name, its parent and its instructions (continuations joined).
struct Stage {
    name: String,
    from: String,
    ins: Vec<String>,
}

fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in dockerfile.lines() {
        if cur.is_empty() && (line.starts_with('#') || line.trim().is_empty()) {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            cur.push_str(stripped);
            continue;
        }
        cur.push_str(line);
        out.push(std::mem::take(&mut cur));
    }
    out
}

fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut v: Vec<Stage> = Vec::new();
    for ins in instructions(dockerfile) {
        if let Some(rest) = ins.strip_prefix("FROM ") {
            let (from, name) = rest.split_once(" AS ").expect("named stage");
            v.push(Stage {
                name: name.trim().to_string(),
                from: from.trim().to_string(),
                ins: Vec::new(),
            });
        } else {
            v.last_mut().expect("FROM first").ins.push(ins);
        }
    }
    v
}

/// The stages a target is built from, the target first.
fn chain<'a>(all: &'a [Stage], target: &str) -> Vec<&'a Stage> {
    let mut v = Vec::new();
    let mut name = target.to_string();
    while let Some(s) = all.iter().find(|s| s.name == name) {
        v.push(s);
        name = s.from.clone();
    }
    v
}

#[test]
fn no_syntax_directive_ever() {
    for (name, _, _, r) in common::all_rendered() {
        for line in r.dockerfile.lines() {
            let l = line.to_ascii_lowercase().replace(' ', "");
            assert!(!l.starts_with("#syntax"), "{name}: {line}");
            assert!(!l.starts_with("#escape"), "{name}: {line}");
        }
    }
}

#[test]
fn lock_copied_before_source() {
    for (name, _, input, r) in common::all_rendered() {
        for stage in stages(&r.dockerfile) {
            let copies: Vec<&String> = stage
                .ins
                .iter()
                .filter(|i| i.starts_with("COPY ") && !i.contains("--from="))
                .collect();
            let lock = copies.iter().position(|c| c.contains(&input.lock.file));
            let src = copies.iter().position(|c| {
                input
                    .source_dirs
                    .iter()
                    .any(|s| c.contains(&format!(" {s} ")))
            });
            if let (Some(src), Some(lock)) = (src, lock) {
                assert!(lock < src, "{name}/{}: lock after source", stage.name);
            }
        }
        let text = &r.dockerfile;
        let lock = text
            .find(&format!("{} ./", input.lock.file))
            .expect("lock copied");
        let src = text
            .find(&format!(" {} ./", input.source_dirs[1]))
            .expect("src");
        assert!(lock < src, "{name}");
    }
}

#[test]
fn no_key_like_copy() {
    for (name, _, _, r) in common::all_rendered() {
        for ins in instructions(&r.dockerfile) {
            if ins.starts_with("COPY") || ins.starts_with("ADD") {
                for bad in [
                    ".ssh",
                    "id_rsa",
                    "id_ed25519",
                    ".pem",
                    ".key",
                    "known_hosts",
                ] {
                    assert!(!ins.contains(bad), "{name}: {ins}");
                }
            }
        }
        assert!(!r.dockerfile.contains("ADD "), "{name}");
    }
}

#[test]
fn ssh_mount_when_git_ssh() {
    for (name, s, input, r) in common::all_rendered() {
        let ssh = !input.git_ssh.is_empty();
        assert_eq!(r.dockerfile.contains("--mount=type=ssh"), ssh, "{name}");
        assert_eq!(r.needs_buildkit, ssh || s.uses_cache_mounts(), "{name}");
        if !r.needs_buildkit {
            assert!(!r.dockerfile.contains("--mount"), "{name}: legacy builder");
        }
    }
}

#[test]
fn no_dev_package_in_final_stages() {
    for (name, _, _, r) in common::all_rendered() {
        let all = stages(&r.dockerfile);
        for target in &r.targets {
            for stage in chain(&all, target) {
                for ins in &stage.ins {
                    for word in ins
                        .split_whitespace()
                        .filter(|w| w.ends_with("-dev") && !w.starts_with('-'))
                    {
                        let purged = ins
                            .split("apt-get purge")
                            .nth(1)
                            .is_some_and(|rest| rest.split_whitespace().any(|w| w == word));
                        assert!(purged, "{name}/{}: {word} kept in `{ins}`", stage.name);
                    }
                }
            }
        }
    }
}

#[test]
fn apt_lists_removed_after_every_install() {
    for (name, _, _, r) in common::all_rendered() {
        for ins in instructions(&r.dockerfile) {
            if let Some(at) = ins.find("apt-get install") {
                let rest = &ins[at..];
                assert!(
                    rest.contains("rm -rf /var/lib/apt/lists/*"),
                    "{name}: {ins}"
                );
                assert!(rest.contains("--no-install-recommends"), "{name}: {ins}");
            }
        }
    }
}

#[test]
fn no_caches_left_without_cache_mounts() {
    for (name, s, _, r) in common::all_rendered() {
        for ins in instructions(&r.dockerfile) {
            let installs = ins.contains("pip install") || ins.contains("pip wheel");
            if installs && !ins.contains("--mount=type=cache") {
                assert!(
                    ins.contains("--no-cache-dir") || ins.contains("uv pip"),
                    "{name}: {ins}"
                );
            }
            if ins.contains("poetry install") && !ins.contains("--mount=type=cache") {
                assert!(ins.contains("rm -rf /tmp/poetry-cache"), "{name}: {ins}");
            }
        }
        if r.dockerfile.contains("uv ") && !s.uses_cache_mounts() {
            assert!(r.dockerfile.contains("UV_NO_CACHE=1"), "{name}");
        }
    }
}

#[test]
fn final_stages_are_complete() {
    for (name, _, _, r) in common::all_rendered() {
        let all = stages(&r.dockerfile);
        assert_eq!(
            all.last().unwrap().name,
            "production",
            "{name}: default target"
        );
        for target in &r.targets {
            let stage = all.iter().find(|s| &s.name == target).expect(target);
            let has = |p: &str| stage.ins.iter().any(|i| i.starts_with(p));
            assert!(has("USER "), "{name}/{target}");
            for i in stage
                .ins
                .iter()
                .filter(|i| i.starts_with("CMD") || i.starts_with("ENTRYPOINT"))
            {
                let json = i.split_once(' ').unwrap().1;
                let v: Vec<String> = serde_json::from_str(json).expect("exec form");
                assert!(!v.is_empty(), "{name}: {i}");
            }
            assert!(has("CMD ") || has("ENTRYPOINT "), "{name}/{target}");
        }
        // Distinct first instruction per stage (legacy builder cache).
        let firsts: Vec<&String> = all.iter().map(|s| &s.ins[0]).collect();
        let mut dedup = firsts.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), firsts.len(), "{name}");
    }
}

#[test]
fn non_root_and_dev_command() {
    let r = render(&common::poetry_fastapi(), Strategy::MultiLayeredSlim).unwrap();
    let all = stages(&r.dockerfile);
    let dev = all.iter().find(|s| s.name == "development").unwrap();
    assert!(dev.ins.iter().any(|i| i.contains("--reload")));
    assert!(dev.ins.iter().any(|i| i == "USER 65532"));
    assert!(r.dockerfile.contains("useradd --system --uid 65532"));
    let prod = all.iter().find(|s| s.name == "production").unwrap();
    assert!(!prod.ins.iter().any(|i| i.contains("--reload")));
}

#[test]
fn registry_hosts_only_from_input() {
    for (name, _, input, r) in common::all_rendered() {
        let text = format!(
            "{}{}",
            r.dockerfile,
            render_compose(&input, Strategy::Recommended)
        );
        // Spelled in parts so this file names no registry host itself.
        let hosts = [
            ["pypi", "org"],
            ["files", "pythonhosted"],
            ["debian", "org"],
            ["docker", "io"],
            ["ghcr", "io"],
        ];
        for host in hosts.map(|h| h.join(".")) {
            assert!(!text.contains(&host), "{name}: {host}");
        }
        assert!(!text.contains("https:"), "{name}");
        assert!(
            text.contains(&format!("ARG PIP_INDEX_URL={}", common::INDEX)),
            "{name}"
        );
    }
    let mut input = common::uv_cli();
    input.index_url = None;
    let r = render(&input, Strategy::Recommended).unwrap();
    assert!(!r.dockerfile.contains("INDEX_URL"));
}

#[test]
fn per_lock_install_commands() {
    let rec = |i| render(&i, Strategy::Recommended).unwrap().dockerfile;
    let uv = rec(common::uv_cli());
    assert!(uv.contains("uv sync --frozen --no-install-project --no-dev"));
    assert!(uv.contains("uv sync --frozen --no-dev --no-editable"));
    assert!(uv.contains("--invalidation-mode unchecked-hash"));
    let poetry = rec(common::poetry_fastapi());
    assert!(poetry.contains("poetry install --no-root --only main"));
    assert!(poetry.contains("POETRY_VIRTUALENVS_CREATE=false"));
    assert!(poetry.contains("pip install --no-deps ."));
    let req = rec(common::requirements_psycopg());
    assert!(req.contains("pip install --require-hashes -r requirements.txt"));
    assert!(
        req.contains("FROM python:3.12 AS builder"),
        "full builder for sdists"
    );
    let mut pylock = common::uv_cli();
    pylock.lock = LockInput::new(LockKind::Pylock, "pylock.toml");
    let py = rec(pylock);
    assert!(py.contains("uv pip install -r pylock.toml"));
    assert!(py.contains("uv pip install --no-deps ."));
}

#[test]
fn distroless_runtime() {
    let mut input = common::uv_cli();
    input.base_images.distroless = Some("lockship/python:3.11".to_string());
    let r = render(&input, Strategy::Recommended).unwrap();
    let all = stages(&r.dockerfile);
    let prod = all.iter().find(|s| s.name == "production").unwrap();
    assert_eq!(prod.from, "lockship/python:3.11");
    assert!(!prod.ins.iter().any(|i| i.starts_with("RUN")));
    assert!(prod.ins.iter().any(|i| i == "USER 65532"));
    assert!(prod
        .ins
        .iter()
        .any(|i| i.starts_with("COPY --from=relocated")));
    assert!(r
        .warnings
        .contains(&Warning::DistrolessUser { user: "app".into() }));

    let mut input = common::requirements_psycopg();
    input.base_images.distroless = Some("lockship/python:3.12".to_string());
    let r = render(&input, Strategy::Recommended).unwrap();
    assert!(!r.dockerfile.contains("lockship/python"));
    assert!(matches!(r.warnings[0], Warning::DistrolessFallback { .. }));
}

#[test]
fn warnings() {
    let clean = render(&common::poetry_fastapi(), Strategy::Recommended).unwrap();
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);

    let mut input = common::poetry_fastapi();
    input.base_images.slim = "python:3.11-alpine".to_string();
    input.base_images.full = "python".to_string();
    input.user = "root".to_string();
    let r = render(&input, Strategy::LayeredSlim).unwrap();
    assert!(r.warnings.contains(&Warning::MuslBase {
        image: "python:3.11-alpine".into()
    }));
    assert!(r.warnings.contains(&Warning::RootUser {
        user: "root".into()
    }));
    assert!(!r.dockerfile.contains("useradd"));
    let r = render(&input, Strategy::BasicFull).unwrap();
    assert!(r.warnings.contains(&Warning::UnpinnedBase {
        image: "python".into()
    }));
    input.base_images.full = "registry.local:5000/python:latest".to_string();
    let r = render(&input, Strategy::BasicFull).unwrap();
    assert!(matches!(&r.warnings[0], Warning::UnpinnedBase { .. }));
    input.base_images.full = "registry.local:5000/python@sha256:abc".to_string();
    let r = render(&input, Strategy::BasicFull).unwrap();
    assert!(!r
        .warnings
        .iter()
        .any(|w| matches!(w, Warning::UnpinnedBase { .. })));

    // Locks pip cannot read: exported first, or refused.
    let r = render(&common::uv_cli(), Strategy::LayeredSlimPipWheels).unwrap();
    assert!(matches!(
        r.warnings[..],
        [Warning::LockExported {
            via: "uv export",
            ..
        }]
    ));
    let r = render(&common::poetry_fastapi(), Strategy::LayeredSlimPipWheels).unwrap();
    assert!(r.dockerfile.contains("poetry-plugin-export==1.9.0"));
    assert!(matches!(
        r.warnings[..],
        [Warning::LockExported {
            via: "poetry export",
            ..
        }]
    ));
    let mut pylock = common::uv_cli();
    pylock.lock = LockInput::new(LockKind::Pylock, "pylock.toml");
    let err = render(&pylock, Strategy::LayeredSlimPipWheels).unwrap_err();
    assert!(matches!(err, DockerfileError::LockUnsupported { .. }));
    assert!(err.hint().unwrap().contains("recommended"));
    let r = render(&pylock, Strategy::LayeredSlim).unwrap();
    assert!(r.warnings.contains(&Warning::DevGroupsIgnored {
        lock: "pylock.toml".into()
    }));

    let mut unpinned = common::uv_cli();
    unpinned.tool_versions.uv = None;
    let r = render(&unpinned, Strategy::LayeredSlim).unwrap();
    assert_eq!(r.warnings, [Warning::UnpinnedTool { tool: "uv" }]);
    assert!(r.warnings[0].to_string().contains("uv"));
}

#[test]
fn invalid_input_is_refused() {
    let s = Strategy::Recommended;
    let mut i = common::uv_cli();
    i.source_dirs = vec!["/home/me/src".into()];
    assert!(matches!(
        render(&i, s),
        Err(DockerfileError::InvalidInput {
            field: "source_dirs",
            ..
        })
    ));
    let mut i = common::uv_cli();
    i.runtime_packages = vec!["libpq-dev".into()];
    let err = render(&i, s).unwrap_err();
    assert!(err.to_string().contains("libpq-dev"));
    assert!(err.hint().is_some());
    let mut i = common::uv_cli();
    i.index_url = Some("http://x/simple\" && curl".into());
    assert!(render(&i, s).is_err());
    let mut i = common::uv_cli();
    i.python = "3".into();
    assert!(render(&i, s).is_err());
    let mut i = common::uv_cli();
    i.ports = vec!["http".into()];
    assert!(render(&i, s).is_err());
}

#[test]
fn strategies_parse_and_describe() {
    for s in Strategy::ALL {
        assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
        assert!(!s.describe().is_empty());
    }
    let err = "fancy".parse::<Strategy>().unwrap_err();
    assert!(err.hint().unwrap().contains("layered-slim-pip-wheels"));
}

#[test]
fn dockerignore_excludes() {
    let r = render(&common::uv_cli(), Strategy::Recommended).unwrap();
    let lines: Vec<&str> = r.dockerignore.lines().collect();
    for pat in [
        "**/.git",
        ".venv",
        "**/__pycache__",
        "**/*.pyc",
        "**/.env*",
        "**/.aws",
        "**/.npmrc",
        "**/.pypirc",
        "**/.netrc",
        "out/",
        "target/",
    ] {
        assert!(lines.contains(&pat), "{pat}");
    }
    let mut i = common::uv_cli();
    i.source_dirs = vec!["build".into(), "pkg.egg-info".into()];
    let r = render(&i, Strategy::Recommended).unwrap();
    assert!(!r.dockerignore.lines().any(|l| l == "build/"));
    assert!(!r.dockerignore.lines().any(|l| l == "*.egg-info"));
}

/// Finding 8 for rendered Dockerfiles: the `.dockerignore` they come with,
/// read as Docker reads it, keeps secrets out and every copied path in.
#[test]
fn rendered_dockerignore_keeps_secrets_out_and_copies_in() {
    use lockship_project::dockerignore;
    let input = common::poetry_fastapi();
    let r = render(&input, Strategy::Recommended).unwrap();
    let rules =
        dockerignore::parse(std::path::Path::new(".dockerignore"), &r.dockerignore).unwrap();
    for secret in [
        ".env",
        ".env.production",
        "deploy/.env",
        ".ssh/id_ed25519",
        ".aws/credentials",
        ".npmrc",
        ".pypirc",
        ".netrc",
        "certs/server.pem",
        "server.key",
        "id_rsa",
        ".git/config",
    ] {
        assert!(rules.is_excluded(secret), "{secret}");
    }
    for copied in input
        .source_dirs
        .iter()
        .chain(&input.manifest_files)
        .chain([&input.lock.file])
    {
        assert!(!rules.is_excluded(copied), "{copied}");
        assert!(!rules.is_excluded(&format!("{copied}/x.py")), "{copied}");
    }
}

#[test]
fn compose_dev_service() {
    let c = render_compose(&common::poetry_fastapi(), Strategy::Recommended);
    assert!(c.contains("target: development"));
    assert!(c.contains("- \"8000:8000\""));
    assert!(c.contains("- \"./src:/app/src\""));
    assert!(c.contains("--reload"));
    assert!(!c.contains("ssh:"));
    let c = render_compose(&common::uv_cli(), Strategy::Recommended);
    assert!(c.contains("ssh:\n        - default"));
    let r = render(&common::uv_cli(), Strategy::BasicSlim)
        .unwrap()
        .with_compose(&common::uv_cli(), Strategy::BasicSlim);
    assert!(r.compose.is_some());
}

#[test]
fn distroless_snapshot() {
    let mut input = common::uv_cli();
    input.user = "65532".to_string();
    input.base_images.distroless = Some("lockship/python:3.11".to_string());
    let r = render(&input, Strategy::Recommended).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    insta::assert_snapshot!("uv_cli-recommended-distroless", r.dockerfile);
}
