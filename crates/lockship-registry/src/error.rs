//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while talking to a registry.
///
/// Every variant names the registry, reference or digest involved; [`RegistryError::hint`]
/// tells the user what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An image reference could not be parsed.
    #[error("Invalid image reference `{input}`: {reason}")]
    InvalidReference {
        /// What the user wrote.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An image reference does not start with a registry host.
    #[error("Image reference `{input}` names no registry")]
    MissingRegistry {
        /// What the user wrote.
        input: String,
    },

    /// The HTTP client could not be set up (for example, a CA bundle that is not PEM).
    #[error("Cannot set up the registry client: {0}")]
    Client(String),

    /// The registry could not be reached (connection refused or reset, timeout, TLS failure).
    #[error("Cannot reach registry `{registry}` ({method} {url}) after {attempts} attempt(s)")]
    Unreachable {
        /// `host[:port]` of the registry.
        registry: String,
        /// The HTTP method.
        method: String,
        /// The URL requested.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: reqwest::Error,
    },

    /// The registry answered with an unexpected HTTP status.
    #[error("Registry `{registry}` answered HTTP {status} to {method} {url}{}", detail_suffix(.detail))]
    Status {
        /// `host[:port]` of the registry.
        registry: String,
        /// The HTTP method.
        method: String,
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error message (from its JSON `errors`), if any.
        detail: String,
    },

    /// The registry refused the credentials (or asked for some and none were found).
    #[error(
        "Registry `{registry}` refused access{}; credentials were looked for in: {}{}",
        scope_suffix(.scope),
        .looked.join(", "),
        withheld_suffix(.withheld_from)
    )]
    Unauthorized {
        /// `host[:port]` of the registry.
        registry: String,
        /// The access asked for (`repository:team/app:pull,push`), if known.
        scope: Option<String>,
        /// Where credentials were looked for, in order, and what was found there.
        looked: Vec<String>,
        /// Whether any credentials were sent.
        sent_credentials: bool,
        /// A token realm the credentials were kept from (plain HTTP on another host), if any.
        withheld_from: Option<String>,
    },

    /// Credentials could not be read (a broken `config.json`, a failing credential helper).
    #[error("Cannot read credentials for `{registry}` from {source_name}: {message}")]
    Credentials {
        /// `host[:port]` of the registry.
        registry: String,
        /// Where they were read from (a path or `docker-credential-NAME`).
        source_name: String,
        /// What went wrong.
        message: String,
    },

    /// The manifest or blob does not exist in the registry.
    #[error("`{reference}` was not found in registry `{registry}`")]
    NotFound {
        /// `host[:port]` of the registry.
        registry: String,
        /// What was asked for (`repo:tag`, `repo@digest`).
        reference: String,
    },

    /// Bytes from the registry do not hash to the digest they were asked for by.
    #[error("Digest mismatch for {what}: expected `{expected}`, got `{actual}`")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },

    /// A manifest, config or blob is larger than lockship accepts (or than its descriptor
    /// says); nothing past the limit was read.
    #[error("{what} from registry `{registry}` is larger than {limit} bytes, {why}")]
    TooLarge {
        /// `host[:port]` of the registry.
        registry: String,
        /// What was fetched (`The manifest of `REF``, `Config `DIGEST` of `REF``...).
        what: String,
        /// The most bytes accepted.
        limit: u64,
        /// Where the limit comes from.
        why: String,
    },

    /// A manifest of a kind this client cannot use.
    #[error("`{reference}` has unsupported media type `{media_type}`")]
    UnsupportedMediaType {
        /// The reference fetched.
        reference: String,
        /// The media type the registry sent.
        media_type: String,
    },

    /// An image index has no manifest for the wanted platform.
    #[error("`{reference}` has no image for platform `{platform}` (it has: {})", .available.join(", "))]
    PlatformNotFound {
        /// The reference fetched.
        reference: String,
        /// The platform wanted.
        platform: String,
        /// The platforms the index lists.
        available: Vec<String>,
    },

    /// The registry sent something that is not what the distribution spec says.
    #[error("Registry `{registry}` sent a malformed response to {what}: {message}")]
    BadResponse {
        /// `host[:port]` of the registry.
        registry: String,
        /// The request.
        what: String,
        /// What is wrong.
        message: String,
    },

    /// A layer blob of the image is missing or changed on disk.
    #[error("Layer blob `{path}` ({digest}) is missing or changed: expected {expected} bytes")]
    LayerChanged {
        /// The blob's path.
        path: PathBuf,
        /// Its recorded digest.
        digest: String,
        /// Its recorded size.
        expected: u64,
    },

    /// A local file could not be read.
    #[error("Cannot read `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The download cache failed.
    #[error(transparent)]
    Fetch(#[from] lockship_fetch::FetchError),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn withheld_suffix(realm: &Option<String>) -> String {
    match realm {
        Some(r) => format!(
            "; they were not sent to token realm `{r}`, which is plain HTTP on another host"
        ),
        None => String::new(),
    }
}

fn scope_suffix(scope: &Option<String>) -> String {
    match scope {
        Some(s) => format!(" to `{s}`"),
        None => String::new(),
    }
}

impl RegistryError {
    /// What the user can do about this error, if there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            RegistryError::InvalidReference { .. } => Some(
                "write references as HOST[:PORT]/REPO[:TAG][@sha256:DIGEST], \
                 e.g. `127.0.0.1:5000/team/app:1.2`; repository names are lowercase"
                    .into(),
            ),
            RegistryError::MissingRegistry { input } => Some(format!(
                "name the registry: HOST[:PORT]/REPO:TAG, e.g. `127.0.0.1:5000/{input}` \
                 (lockship has no default registry)"
            )),
            RegistryError::Client(_) => Some(
                "check `SSL_CERT_FILE` and any extra CA file: they must hold PEM certificates"
                    .into(),
            ),
            RegistryError::Unreachable { registry, url, .. } => {
                let mut hint = format!(
                    "check that `{registry}` is up and reachable; a TLS error with a private CA \
                     needs the CA in `SSL_CERT_FILE`"
                );
                if url.starts_with("https://") {
                    hint.push_str(&format!(
                        "; a registry that speaks plain HTTP must be listed as insecure \
                         (e.g. `--insecure-registry {registry}`)"
                    ));
                }
                Some(hint)
            }
            RegistryError::Status { status, .. } if *status == 403 => {
                Some("the credentials are valid but lack permission for this repository".into())
            }
            RegistryError::Status { status, .. } if *status >= 500 => {
                Some("the registry failed; try again later or check its logs".into())
            }
            RegistryError::Status { .. } => None,
            RegistryError::Unauthorized {
                registry,
                withheld_from: Some(realm),
                ..
            } => Some(format!(
                "lockship sends credentials to a token realm only over HTTPS, or over plain HTTP \
                 on the registry's own host name when the registry itself may use plain HTTP \
                 (loopback, `--insecure-registry`); `{registry}` points at `{realm}`: serve \
                 that token service over HTTPS"
            )),
            RegistryError::Unauthorized {
                registry,
                sent_credentials,
                ..
            } => Some(if *sent_credentials {
                format!(
                    "the credentials for `{registry}` were refused: check the user name and \
                     password (`--registry-user` with the password on stdin), or log in again \
                     with `docker login {registry}`"
                )
            } else {
                format!(
                    "`{registry}` needs credentials: pass `--registry-user {registry}=USER` \
                     with the password on stdin, or run `docker login {registry}`"
                )
            }),
            RegistryError::Credentials { source_name, .. } => Some(format!(
                "fix or remove the entry in {source_name}, or pass credentials explicitly"
            )),
            RegistryError::NotFound { .. } => {
                Some("check the repository name and the tag or digest".into())
            }
            RegistryError::DigestMismatch { .. } => Some(
                "the registry or something between it and us changed the bytes; try again".into(),
            ),
            RegistryError::TooLarge { .. } => Some(
                "this is not a normal image: check the reference and the registry \
                 (manifests and indexes are capped at 4 MiB, as containerd does, configs at \
                 8 MiB, blobs at the size their manifest gives)"
                    .into(),
            ),
            RegistryError::UnsupportedMediaType { .. } => Some(
                "only OCI and Docker schema 2 images and indexes are supported \
                 (re-push old schema 1 images with a current tool)"
                    .into(),
            ),
            RegistryError::PlatformNotFound { available, .. } => Some(format!(
                "choose one of the platforms the image has: {}",
                available.join(", ")
            )),
            RegistryError::BadResponse { .. } => {
                Some("the registry may not implement the OCI distribution spec".into())
            }
            RegistryError::LayerChanged { .. } => {
                Some("build the image again: its layer files changed after it was built".into())
            }
            RegistryError::Io { .. } => None,
            RegistryError::Fetch(_) => None,
        }
    }

    /// Whether trying the same operation again may succeed (5xx, 429, network failures).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
