//! Where an image goes, as `docker buildx build` names it (`-t`, `--load`,
//! `--push`, `--output`), checked before any work; writing it there; and the
//! one line `--quiet` prints.

use anyhow::{bail, Context as _, Result};
use lockship_bench::{PushSummary, Written};
use lockship_oci::{Image, Output};
use lockship_registry::{Reference, RegistryError};

use crate::cli::{OutputArgs, RegistryArgs};

/// Parses every `--output` up front, so a typo fails before any work.
pub fn parse_outputs(outputs: &[String]) -> Result<Vec<(String, Output)>> {
    outputs
        .iter()
        .map(|text| Ok((text.clone(), text.parse::<Output>()?)))
        .collect()
}

/// Every destination of one image, checked before any work: outputs parse,
/// tags are image names, pushes name a registry (or there is a default
/// repository), and there is at least one.
#[derive(Debug, Clone)]
pub struct Destinations {
    /// `--output`, as written and parsed.
    pub outputs: Vec<(String, Output)>,
    /// `-t`, in order.
    tags: Vec<String>,
    /// `--load` given (as a switch or with a name).
    load: bool,
    /// `--load=NAME`: one more name to load under.
    load_name: Option<String>,
    /// `--push` given as a switch: push the tags.
    push_tags: bool,
    /// `--push=REF`: pushed to as written.
    push_refs: Vec<Reference>,
    /// The default repository (`LOCKSHIP_REPO`, `[tool.lockship] repo`).
    repo: Option<String>,
    /// `--mount-from`, and the base's repository when it is on a target registry.
    pub mount_from: Vec<String>,
}

impl Destinations {
    /// Checks the output flags; `repo` is the default repository bare names are pushed to.
    pub fn check(out: &OutputArgs, repo: Option<&str>) -> Result<Destinations> {
        let outputs = parse_outputs(&out.output)?;
        for tag in &out.tag {
            lockship_oci::normalize_tag(tag).with_context(|| format!("`--tag {tag}`"))?;
        }
        let load_name = match out.load.as_deref() {
            Some(name) if !name.is_empty() => {
                lockship_oci::normalize_tag(name).with_context(|| format!("`--load={name}`"))?;
                Some(name.to_string())
            }
            _ => None,
        };
        let mut push_refs = Vec::new();
        for push in out.push.iter().filter(|p| !p.is_empty()) {
            push_refs.push(Reference::parse(push)?);
        }
        if let Some(repo) = repo {
            check_repo(repo)?;
        }
        let dest = Destinations {
            outputs,
            tags: out.tag.clone(),
            load: out.load.is_some(),
            load_name,
            push_tags: out.push.iter().any(String::is_empty),
            push_refs,
            repo: repo.map(|r| r.trim_end_matches('/').to_string()),
            mount_from: out.mount_from.clone(),
        };
        if dest.push_tags {
            if dest.tags.is_empty() && dest.repo.is_none() {
                bail!("`--push` has nowhere to push: no `--tag` and no default repository\nhint: add `-t HOST[:PORT]/REPO:TAG`, or set `LOCKSHIP_REPO=HOST[:PORT]/NAMESPACE` (or `[tool.lockship] repo`) to push PROJECT:VERSION there");
            }
            for tag in &dest.tags {
                dest.resolve(tag)?;
            }
        }
        if dest.outputs.is_empty() && !dest.load && dest.push_refs.is_empty() && !dest.push_tags {
            bail!("Nowhere to put the image\nhint: add `-t NAME:TAG --load`, `-t HOST/REPO:TAG --push`, `--output oci:DIR` or `--output docker-archive:FILE`");
        }
        Ok(dest)
    }

    /// The image's names: the tags and `--load=NAME`, else `default`.
    /// Archives and layouts carry the first.
    pub fn names(&self, default: &str) -> Vec<String> {
        let mut names = self.tags.clone();
        names.extend(self.load_name.iter().cloned());
        if names.is_empty() {
            names.push(default.to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    /// A tag as a registry reference: as written when it names a registry,
    /// else under the default repository.
    fn resolve(&self, tag: &str) -> Result<Reference> {
        match Reference::parse(tag) {
            Err(RegistryError::MissingRegistry { .. }) => match &self.repo {
                Some(repo) => Ok(Reference::parse(&format!("{repo}/{tag}"))?),
                None => bail!("`--push` of `{tag}`: the tag names no registry and there is no default repository\nhint: tag it `HOST[:PORT]/REPO:TAG`, or set `LOCKSHIP_REPO=HOST[:PORT]/NAMESPACE` (or `[tool.lockship] repo`) to push it to NAMESPACE/{tag}"),
            },
            other => Ok(other?),
        }
    }

    /// Every reference pushed to, `default` naming the image when no tag does.
    pub fn push_targets(&self, default: &str) -> Result<Vec<Reference>> {
        let mut targets = self.push_refs.clone();
        if self.push_tags {
            let tags = if self.tags.is_empty() {
                vec![default.to_string()]
            } else {
                self.tags.clone()
            };
            for tag in &tags {
                targets.push(self.resolve(tag)?);
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        targets.retain(|r| seen.insert(r.to_string()));
        Ok(targets)
    }

    /// The registries pushed to, known before the image's default name is.
    pub fn push_registries(&self) -> Vec<String> {
        let mut registries: Vec<String> =
            self.push_refs.iter().map(|r| r.registry.clone()).collect();
        if self.push_tags {
            registries.extend(
                self.tags
                    .iter()
                    .filter_map(|t| self.resolve(t).ok())
                    .map(|r| r.registry),
            );
            if self.tags.is_empty() {
                registries.extend(
                    self.repo
                        .as_deref()
                        .and_then(|r| Reference::parse(&format!("{r}/x")).ok())
                        .map(|r| r.registry),
                );
            }
        }
        registries.sort();
        registries.dedup();
        registries
    }
}

/// The default repository must name a registry: `HOST[:PORT]/NAMESPACE`.
fn check_repo(repo: &str) -> Result<()> {
    match Reference::parse(&format!("{}/x", repo.trim_end_matches('/'))) {
        Ok(r) if r.tag.as_deref() == Some("latest") && r.digest.is_none() => Ok(()),
        _ => bail!("The default repository `{repo}` is not HOST[:PORT]/NAMESPACE\nhint: set `LOCKSHIP_REPO` (or `[tool.lockship] repo`) to e.g. `127.0.0.1:5000/team`, with no tag or digest"),
    }
}

/// The registries `--registry-user` credentials are for: the one it names
/// (`HOST[:PORT]=USER`), else those pushed to. A base image on another
/// registry never gets them (it uses Docker's config, or nothing).
fn flag_credentials(
    flag: &str,
    password: &str,
    pushed: &[String],
) -> Result<Vec<lockship_registry::RegistryCredential>> {
    let named = flag.split_once('=').filter(|(host, _)| {
        Reference::parse(&format!("{host}/x")).is_ok_and(|r| r.registry == *host)
    });
    let (registries, user) = match named {
        Some((host, user)) => (vec![host.to_string()], user),
        None => {
            if pushed.is_empty() {
                bail!("`--registry-user {flag}` names no registry and there is no `--push`\nhint: its credentials go only to the registries pushed to; for another registry name it: `--registry-user HOST[:PORT]={flag}`");
            }
            (pushed.to_vec(), flag)
        }
    };
    Ok(registries
        .into_iter()
        .map(|registry| lockship_registry::RegistryCredential {
            registry,
            username: user.to_string(),
            password: password.to_string(),
        })
        .collect())
}

/// The registry client of the registry flags, credentials scoped to `pushed`
/// (the password, when a user is named, from standard input, read once
/// however many clients are made).
pub fn registry_client(
    registry: &RegistryArgs,
    pushed: &[String],
) -> Result<lockship_registry::Client> {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut options = lockship_registry::ClientOptions {
        insecure_registries: registry.insecure_registry.clone(),
        ..Default::default()
    };
    if let Some(user) = &registry.registry_user {
        let password = match PASSWORD.get() {
            Some(p) => p.clone(),
            None => {
                let mut password = String::new();
                std::io::stdin()
                    .read_line(&mut password)
                    .context("Cannot read the registry password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']).to_string();
                PASSWORD.get_or_init(|| password).clone()
            }
        };
        options.credentials = flag_credentials(user, &password, pushed)?;
    }
    Ok(lockship_registry::Client::new(options)?)
}

/// What [`write_all`] did: one entry per destination, and the line `--quiet` prints.
pub struct Delivered {
    /// Per destination.
    pub written: Vec<Written>,
    /// The first pushed reference with its digest, else the first loaded
    /// name, else the digest of the first output.
    pub line: String,
}

/// Writes the image (one per platform: several make an index) to each
/// output, loads the host's into Docker under every name with `--load`, and
/// pushes to every target. `default` names the image when no tag does.
pub fn write_all(
    images: &[Image],
    dest: &Destinations,
    registry: &RegistryArgs,
    default: &str,
) -> Result<Delivered> {
    let names = dest.names(default);
    let name = names[0].as_str();
    let mut written = Vec::new();
    let mut digest = None;
    for (text, output) in &dest.outputs {
        let summary = match images {
            [image] => lockship_oci::write_output(image, output, Some(name)),
            _ => lockship_oci::write_index_output(images, output, Some(name)),
        }
        .with_context(|| format!("Cannot write `{text}`"))?;
        digest.get_or_insert(summary.digest);
        written.push(Written {
            destination: text.clone(),
            bytes: summary.bytes,
            push: None,
        });
    }
    let mut loaded: Option<String> = None;
    if dest.load {
        let host = lockship_oci::Platform::host();
        let image = match images {
            [image] => image,
            _ => images.iter().find(|i| i.platform == host).with_context(|| {
                format!("`--load` loads the image of this machine's platform ({host}), which was not built\nhint: add {host} to `--platform`, or write the index with `--output`")
            })?,
        };
        for name in &names {
            match &loaded {
                None => lockship_oci::load_into_docker(image, name)
                    .with_context(|| format!("Cannot load `{name}` into Docker"))?,
                Some(first) => lockship_oci::tag_in_docker(first, name)
                    .with_context(|| format!("Cannot tag `{first}` as `{name}` in Docker"))?,
            }
            loaded.get_or_insert(lockship_oci::normalize_tag(name)?);
            written.push(Written {
                destination: format!("docker:{name}"),
                bytes: 0,
                push: None,
            });
        }
    }
    let targets = dest.push_targets(default)?;
    let mut pushed = None;
    if !targets.is_empty() {
        let client = registry_client(registry, &dest.push_registries())?;
        let options = lockship_registry::PushOptions {
            mount_from: dest.mount_from.clone(),
        };
        for reference in &targets {
            let report = match images {
                [image] => client.push_image(image, reference, &options),
                _ => client.push_index(images, reference, &options),
            }
            .with_context(|| format!("Cannot push `{reference}`"))?;
            pushed.get_or_insert(reference.with_digest(&report.digest).to_string());
            written.push(Written {
                destination: format!("registry:{reference}"),
                bytes: report.uploaded_bytes,
                push: Some(PushSummary {
                    digest: report.digest.clone(),
                    uploaded_bytes: report.uploaded_bytes,
                    uploaded_blobs: report.uploaded_blobs,
                    skipped_blobs: report.skipped_blobs,
                    mounted_blobs: report.mounted_blobs,
                    seconds: report.seconds,
                }),
            });
        }
    }
    let line = pushed
        .or(loaded)
        .or(digest)
        .unwrap_or_else(|| images[0].digest());
    Ok(Delivered { written, line })
}

/// One line per destination, for people.
pub fn describe_written(w: &Written) -> String {
    match &w.push {
        Some(p) => format!(
            "pushed {} ({}): uploaded {} in {} blobs, {} already there, {} mounted, {:.1}s",
            w.destination.trim_start_matches("registry:"),
            p.digest,
            human(p.uploaded_bytes),
            p.uploaded_blobs,
            p.skipped_blobs,
            p.mounted_blobs,
            p.seconds
        ),
        None => format!("wrote {}", w.destination),
    }
}

/// Human-readable bytes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::{flag_credentials, Destinations};
    use crate::cli::OutputArgs;

    fn out(tags: &[&str], load: Option<&str>, push: &[&str]) -> OutputArgs {
        OutputArgs {
            tag: tags.iter().map(|t| t.to_string()).collect(),
            load: load.map(str::to_string),
            push: push.iter().map(|p| p.to_string()).collect(),
            ..OutputArgs::default()
        }
    }

    fn targets(dest: &Destinations, default: &str) -> Vec<String> {
        dest.push_targets(default)
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    #[test]
    fn tags_name_the_image_and_bare_ones_go_to_the_default_repository() {
        let repo = Some("127.0.0.1:5000/team/");
        let dest = Destinations::check(
            &out(
                &["app:1", "127.0.0.1:6000/other/app:2", "app:1"],
                Some(""),
                &[""],
            ),
            repo,
        )
        .unwrap();
        assert_eq!(
            dest.names("proj:0.1"),
            ["app:1", "127.0.0.1:6000/other/app:2"]
        );
        assert_eq!(
            targets(&dest, "proj:0.1"),
            ["127.0.0.1:5000/team/app:1", "127.0.0.1:6000/other/app:2"]
        );
        assert_eq!(dest.push_registries(), ["127.0.0.1:5000", "127.0.0.1:6000"]);
        // No tag: the default name, pushed under the repository.
        let dest = Destinations::check(&out(&[], None, &[""]), repo).unwrap();
        assert_eq!(dest.names("proj:0.1"), ["proj:0.1"]);
        assert_eq!(targets(&dest, "proj:0.1"), ["127.0.0.1:5000/team/proj:0.1"]);
        assert_eq!(dest.push_registries(), ["127.0.0.1:5000"]);
        // The compatibility forms: `--load=NAME` names one more, `--push=REF` pushes there only.
        let dest = Destinations::check(
            &out(&["app:1"], Some("local:dev"), &["127.0.0.1:5000/x/y:3"]),
            None,
        )
        .unwrap();
        assert_eq!(dest.names("proj:0.1"), ["app:1", "local:dev"]);
        assert_eq!(targets(&dest, "proj:0.1"), ["127.0.0.1:5000/x/y:3"]);
    }

    #[test]
    fn destinations_are_refused_before_any_work() {
        let err = |o: OutputArgs, repo: Option<&str>| {
            Destinations::check(&o, repo).unwrap_err().to_string()
        };
        assert!(err(out(&[], None, &[]), None).contains("Nowhere to put the image"));
        assert!(err(out(&["app:1"], None, &[""]), None).contains("LOCKSHIP_REPO"));
        assert!(err(out(&[], None, &[""]), None).contains("nowhere to push"));
        assert!(err(out(&["App:1"], Some(""), &[]), None).contains("`--tag App:1`"));
        assert!(err(out(&["app:1"], None, &[""]), Some("team")).contains("`team`"));
        assert!(err(out(&[], None, &["app:1"]), None).contains("app:1"));
    }

    #[test]
    fn registry_user_credentials_are_scoped_to_the_push_targets() {
        let push = vec!["127.0.0.1:5000".to_string(), "localhost:6000".to_string()];
        let got = flag_credentials("alice", "pw", &push).unwrap();
        let registries: Vec<&str> = got.iter().map(|c| c.registry.as_str()).collect();
        assert_eq!(registries, ["127.0.0.1:5000", "localhost:6000"]);
        assert!(got.iter().all(|c| c.username == "alice"));
        // Naming the registry sends them there only.
        let got = flag_credentials("base.example:443=bob", "pw", &push).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].registry, "base.example:443");
        assert_eq!(got[0].username, "bob");
        // A user name with `=` that is not a registry stays a user name.
        let got = flag_credentials("a=b", "pw", &push).unwrap();
        assert_eq!(got[0].username, "a=b");
        // Nothing pushed and no registry named: an error, not credentials sent anywhere.
        let err = flag_credentials("alice", "pw", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no registry"), "{err}");
    }
}
