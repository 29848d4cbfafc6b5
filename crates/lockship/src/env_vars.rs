//! Every environment variable lockship reads, in one place.
#![allow(dead_code)] // the documented list; not every entry is read by this crate

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
/// XDG base directory for caches.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// A PEM bundle of extra trusted CAs (read by the HTTP client).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// The Docker engine's socket (`unix:///var/run/docker.sock`).
pub const DOCKER_HOST: &str = "DOCKER_HOST";
