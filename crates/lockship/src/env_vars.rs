//! Every environment variable lockship reads, in one place. The binary reads
//! its own once, into [`crate::settings::Environment`]; the rest are read by
//! the library that needs them, and listed here so that the list is whole.

/// The cache directory (else `$XDG_CACHE_HOME/lockship`, else `~/.cache/lockship`).
pub const LOCKSHIP_CACHE_DIR: &str = "LOCKSHIP_CACHE_DIR";
/// The Debian mirror (else the host's apt sources).
pub const LOCKSHIP_DEBIAN_MIRROR: &str = "LOCKSHIP_DEBIAN_MIRROR";
/// The Debian archive keyring file.
pub const LOCKSHIP_KEYRING: &str = "LOCKSHIP_KEYRING";
/// The fixed timestamp of every file and of the image (reproducible builds).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// The size (bytes) from which a wheel gets a layer of its own (`--large-wheel-bytes`).
pub const LOCKSHIP_LARGE_WHEEL_BYTES: &str = "LOCKSHIP_LARGE_WHEEL_BYTES";
/// The default repository, `HOST[:PORT]/NAMESPACE`: `--push` sends a tag without a
/// registry (and, without a tag, PROJECT:VERSION) there (after `[tool.lockship] repo`).
pub const LOCKSHIP_REPO: &str = "LOCKSHIP_REPO";
/// uv's mirror of the python-build-standalone releases; lockship downloads
/// standalone CPython builds from it too (after `--python-mirror` and
/// `[tool.lockship] python-mirror`).
pub const UV_PYTHON_INSTALL_MIRROR: &str = "UV_PYTHON_INSTALL_MIRROR";
/// XDG base directory for caches.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The home directory (the cache's last fallback, `~/.cache/lockship`).
pub const HOME: &str = "HOME";
/// A PEM bundle of extra trusted CAs (read by the HTTP client, `lockship-fetch`).
#[allow(dead_code)] // read by lockship-fetch
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// The Docker engine's socket (`unix:///var/run/docker.sock`; read by `lockship-oci`).
#[allow(dead_code)] // read by lockship-oci
pub const DOCKER_HOST: &str = "DOCKER_HOST";
/// The package index of uv, and of pip (read by `lockship-wheel`'s index discovery).
#[allow(dead_code)] // read by lockship-wheel
pub const UV_INDEX_URL: &str = "UV_INDEX_URL";
/// pip's package index (read by `lockship-wheel`'s index discovery).
#[allow(dead_code)] // read by lockship-wheel
pub const PIP_INDEX_URL: &str = "PIP_INDEX_URL";
/// pip's configuration file (read by `lockship-wheel`'s index discovery).
#[allow(dead_code)] // read by lockship-wheel
pub const PIP_CONFIG_FILE: &str = "PIP_CONFIG_FILE";
/// A `.netrc` with index credentials (read by `lockship-wheel`).
#[allow(dead_code)] // read by lockship-wheel
pub const NETRC: &str = "NETRC";
/// XDG base directory for configuration (pip's `pip.conf`; read by `lockship-wheel`).
#[allow(dead_code)] // read by lockship-wheel
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// Docker's configuration directory, for registry credentials (read by `lockship-registry`).
#[allow(dead_code)] // read by lockship-registry
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
