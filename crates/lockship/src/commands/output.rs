//! Writing one image to every requested destination (shared by the verbs that build).

use anyhow::{bail, Context as _, Result};
use lockship_bench::{PushSummary, Written};
use lockship_oci::{Image, Output};

use crate::cli::OutputArgs;

/// Parses every `--output` up front, so a typo fails before any work.
pub fn parse_outputs(outputs: &[String]) -> Result<Vec<(String, Output)>> {
    outputs
        .iter()
        .map(|text| Ok((text.clone(), text.parse::<Output>()?)))
        .collect()
}

/// Checks every destination before any work: outputs parse, pushes name a
/// registry, and there is at least one.
pub fn check_destinations(out: &OutputArgs) -> Result<Vec<(String, Output)>> {
    let outputs = parse_outputs(&out.output)?;
    for push in &out.push {
        lockship_registry::Reference::parse(push)?;
    }
    if outputs.is_empty() && out.load.is_none() && out.push.is_empty() {
        bail!("Nowhere to put the image\nhint: add `--output oci:DIR`, `--output docker-archive:FILE`, `--load NAME:TAG`, or `--push HOST/REPO:TAG`");
    }
    Ok(outputs)
}

/// The registries `--registry-user` credentials are for: the one it names
/// (`HOST[:PORT]=USER`), else those of the `--push` targets. A base image on
/// another registry never gets them (it uses Docker's config, or nothing).
fn flag_credentials(
    flag: &str,
    password: &str,
    push: &[String],
) -> Result<Vec<lockship_registry::RegistryCredential>> {
    let named = flag.split_once('=').filter(|(host, _)| {
        lockship_registry::Reference::parse(&format!("{host}/x")).is_ok_and(|r| r.registry == *host)
    });
    let (registries, user) = match named {
        Some((host, user)) => (vec![host.to_string()], user),
        None => {
            let mut registries = Vec::new();
            for p in push {
                let registry = lockship_registry::Reference::parse(p)?.registry;
                if !registries.contains(&registry) {
                    registries.push(registry);
                }
            }
            if registries.is_empty() {
                bail!("`--registry-user {flag}` names no registry and there is no `--push`\nhint: its credentials go only to the registries pushed to; for another registry name it: `--registry-user HOST[:PORT]={flag}`");
            }
            (registries, flag)
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

/// The registry client of the output flags (the password, when a user is
/// named, from standard input, read once however many clients are made).
pub fn registry_client(out: &OutputArgs) -> Result<lockship_registry::Client> {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut options = lockship_registry::ClientOptions {
        insecure_registries: out.insecure_registry.clone(),
        ..Default::default()
    };
    if let Some(user) = &out.registry_user {
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
        options.credentials = flag_credentials(user, &password, &out.push)?;
    }
    Ok(lockship_registry::Client::new(options)?)
}

/// Writes the image (one per platform: several make an index) to each
/// output, loads the host's into Docker with `--load`, and pushes.
pub fn write_all(
    images: &[Image],
    outputs: &[(String, Output)],
    out: &OutputArgs,
    tag: &str,
) -> Result<Vec<Written>> {
    let mut written = Vec::new();
    for (text, output) in outputs {
        let summary = match images {
            [image] => lockship_oci::write_output(image, output, Some(tag)),
            _ => lockship_oci::write_index_output(images, output, Some(tag)),
        }
        .with_context(|| format!("Cannot write `{text}`"))?;
        written.push(Written {
            destination: text.clone(),
            bytes: summary.bytes,
            push: None,
        });
    }
    if let Some(name) = out.load.as_deref() {
        let host = lockship_oci::Platform::host();
        let image = match images {
            [image] => image,
            _ => images.iter().find(|i| i.platform == host).with_context(|| {
                format!("`--load` loads the image of this machine's platform ({host}), which was not built\nhint: add {host} to `--platform`, or write the index with `--output`")
            })?,
        };
        lockship_oci::load_into_docker(image, name)
            .with_context(|| format!("Cannot load `{name}` into Docker"))?;
        written.push(Written {
            destination: format!("docker:{name}"),
            bytes: 0,
            push: None,
        });
    }
    if !out.push.is_empty() {
        let client = registry_client(out)?;
        let options = lockship_registry::PushOptions {
            mount_from: out.mount_from.clone(),
        };
        for text in &out.push {
            let reference = lockship_registry::Reference::parse(text)?;
            let report = match images {
                [image] => client.push_image(image, &reference, &options),
                _ => client.push_index(images, &reference, &options),
            }
            .with_context(|| format!("Cannot push `{text}`"))?;
            written.push(Written {
                destination: format!("registry:{text}"),
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
    Ok(written)
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
    use super::flag_credentials;

    #[test]
    fn registry_user_credentials_are_scoped_to_the_push_targets() {
        let push = vec![
            "127.0.0.1:5000/team/app:1".to_string(),
            "127.0.0.1:5000/team/app:2".to_string(),
            "localhost:6000/app:1".to_string(),
        ];
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
