//! Refusing input that cannot be written into a Dockerfile safely.

use crate::{DockerInput, DockerfileError};

fn invalid(field: &'static str, value: &str, reason: &'static str) -> DockerfileError {
    DockerfileError::InvalidInput {
        field,
        value: value.to_string(),
        reason,
    }
}

fn no_control(field: &'static str, value: &str) -> Result<(), DockerfileError> {
    if value.chars().any(char::is_control) {
        return Err(invalid(field, value, "contains a control character"));
    }
    Ok(())
}

/// A path in the build context: relative, no `..`, plain characters.
fn context_path(field: &'static str, value: &str) -> Result<(), DockerfileError> {
    if value.is_empty() || value.starts_with('/') || value.split('/').any(|c| c == "..") {
        return Err(invalid(
            field,
            value,
            "must be a relative path inside the project",
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Err(invalid(field, value, "has characters a COPY cannot take"));
    }
    Ok(())
}

/// A path inside the image: absolute, plain characters.
fn image_path(field: &'static str, value: &str) -> Result<(), DockerfileError> {
    if !value.starts_with('/')
        || value == "/"
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Err(invalid(
            field,
            value,
            "must be an absolute path of plain characters inside the image",
        ));
    }
    Ok(())
}

fn word(field: &'static str, value: &str, extra: &str) -> Result<(), DockerfileError> {
    if value.is_empty()
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(invalid(field, value, "has unexpected characters"));
    }
    Ok(())
}

/// Checks every field that ends up in the Dockerfile.
pub(crate) fn validate(i: &DockerInput) -> Result<(), DockerfileError> {
    no_control("project", &i.project)?;
    if let Some(v) = &i.version {
        no_control("version", v)?;
    }
    let mut parts = i.python.split('.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !(numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()) {
        return Err(invalid(
            "python",
            &i.python,
            "must be a minor version like 3.11",
        ));
    }
    context_path("lock.file", &i.lock.file)?;
    if let Some(f) = &i.lock.dev_file {
        context_path("lock.dev_file", f)?;
    }
    for f in &i.manifest_files {
        context_path("manifest_files", f)?;
    }
    for f in &i.source_dirs {
        context_path("source_dirs", f)?;
    }
    for g in &i.groups {
        word("groups", g, "-_.")?;
    }
    image_path("venv", &i.venv)?;
    image_path("workdir", &i.workdir)?;
    word("user", &i.user, "-_")?;
    for a in i.entrypoint.iter().chain(&i.cmd).chain(&i.dev_command) {
        no_control("entrypoint/cmd", a)?;
    }
    for (k, v) in &i.env {
        if k.is_empty()
            || k.starts_with(|c: char| c.is_ascii_digit())
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid("env", k, "is not an environment variable name"));
        }
        no_control("env", v)?;
    }
    for p in &i.ports {
        let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(invalid("ports", p, "must look like 8000/tcp"));
        }
    }
    for (k, v) in &i.labels {
        word("labels", k, "-_./")?;
        no_control("labels", v)?;
    }
    for p in &i.runtime_packages {
        word("runtime_packages", p, "-.+")?;
        if p.ends_with("-dev") {
            return Err(invalid(
                "runtime_packages",
                p,
                "is a -dev package: it belongs in build_packages",
            ));
        }
    }
    for p in &i.build_packages {
        word("build_packages", p, "-.+")?;
    }
    for h in &i.git_ssh {
        word("git_ssh", h, "-.")?;
    }
    if let Some(url) = &i.index_url {
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url
                .chars()
                .any(|c| c.is_whitespace() || "\"'$`\\".contains(c))
        {
            return Err(invalid("index_url", url, "must be a plain http(s) URL"));
        }
    }
    let tv = &i.tool_versions;
    for v in [&tv.uv, &tv.poetry, &tv.poetry_plugin_export]
        .into_iter()
        .flatten()
    {
        word("tool_versions", v, ".*+!-")?;
    }
    let images = [Some(&i.base_images.slim), Some(&i.base_images.full)];
    for img in images
        .into_iter()
        .chain([i.base_images.distroless.as_ref()])
        .flatten()
    {
        word("base_images", img, "-_./:@")?;
    }
    Ok(())
}
