//! `hint:` lines: what the user can do about an error, from every typed
//! error in its chain. Each library's error enum answers through [`Hint`];
//! [`HINTS`] is the one list of the error types the binary asks.

use std::error::Error;

/// An error that may tell the user what to do.
trait Hint {
    fn hint(&self) -> Option<String>;
}

/// The library crates' errors, each with its own `hint()`.
macro_rules! own_hint {
    ($($error:ty),* $(,)?) => {
        $(impl Hint for $error {
            fn hint(&self) -> Option<String> {
                <$error>::hint(self)
            }
        })*
    };
}

own_hint!(
    lockship_runtime::RuntimeError,
    lockship_debian::DebianError,
    lockship_oci::OciError,
    lockship_build::BuildError,
    lockship_project::ProjectError,
    lockship_wheel::WheelError,
    lockship_sdist::SdistError,
    lockship_elf::ElfError,
    lockship_registry::RegistryError,
    lockship_dockerfile::DockerfileError,
    lockship_bench::BenchError,
);

/// The fetch errors' hints name the binary's flags and variables.
impl Hint for lockship_fetch::FetchError {
    fn hint(&self) -> Option<String> {
        use lockship_fetch::FetchError::*;
        match self {
            Unreachable { .. } => Some(
                "check the network and the mirror URL (`--debian-mirror` or `LOCKSHIP_DEBIAN_MIRROR`); behind a TLS proxy, set `SSL_CERT_FILE` to its CA bundle".into(),
            ),
            HashMismatch { .. } => Some(
                "the server sent other bytes than its signed index lists; nothing was cached, so retry, or use another mirror".into(),
            ),
            CacheDir { .. } => Some("pass a writable `--cache-dir` or set `LOCKSHIP_CACHE_DIR`".into()),
            Status { status: 404, .. } => Some("check the mirror URL and the suite name".into()),
            _ => None,
        }
    }
}

impl Hint for std::io::Error {
    fn hint(&self) -> Option<String> {
        match self.kind() {
            std::io::ErrorKind::StorageFull => Some(
                "the disk is full: free some space, or write the output (or `--cache-dir`) elsewhere"
                    .into(),
            ),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Some("choose a path you can write to".into())
            }
            _ => None,
        }
    }
}

type HintOf = fn(&(dyn Error + 'static)) -> Option<String>;

fn hint_of<E: Hint + Error + 'static>(cause: &(dyn Error + 'static)) -> Option<String> {
    cause.downcast_ref::<E>()?.hint()
}

/// Every error type a cause may be, in the order they are tried.
const HINTS: &[HintOf] = &[
    hint_of::<lockship_runtime::RuntimeError>,
    hint_of::<lockship_debian::DebianError>,
    hint_of::<lockship_oci::OciError>,
    hint_of::<lockship_build::BuildError>,
    hint_of::<lockship_project::ProjectError>,
    hint_of::<lockship_wheel::WheelError>,
    hint_of::<lockship_sdist::SdistError>,
    hint_of::<lockship_elf::ElfError>,
    hint_of::<lockship_registry::RegistryError>,
    hint_of::<lockship_dockerfile::DockerfileError>,
    hint_of::<lockship_bench::BenchError>,
    hint_of::<lockship_fetch::FetchError>,
    hint_of::<std::io::Error>,
];

/// The hint of one cause, if it is a typed error with one.
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    HINTS.iter().find_map(|of| of(cause))
}

/// The error, its causes, and `hint:` lines, as printed on stderr.
///
/// A wrapper's hint is often its source's (`BuildError::Project(e) =>
/// e.hint()`), and `LayerError::Build` still carries another crate's error,
/// hint included, as text; so a hint already printed is not printed again.
pub fn render(err: &anyhow::Error) -> String {
    let mut message = format!("error: {err}");
    for cause in err.chain().skip(1) {
        message.push_str(&format!("\n  caused by: {cause}"));
    }
    let mut seen: Vec<String> = Vec::new();
    for hint in err.chain().filter_map(hint) {
        if !seen.contains(&hint) && !message.contains(&format!("hint: {hint}")) {
            message.push_str(&format!("\nhint: {hint}"));
        }
        seen.push(hint);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_cause_gives_its_hint_under_a_context() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = anyhow::Error::new(io).context("Cannot write `out`");
        let text = render(&err);
        assert!(
            text.starts_with("error: Cannot write `out`\n  caused by: "),
            "{text}"
        );
        assert!(
            text.ends_with("\nhint: choose a path you can write to"),
            "{text}"
        );
    }

    #[test]
    fn a_hint_is_printed_once() {
        // Two causes with the same hint, and a message that already carries it.
        let inner = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let outer = std::io::Error::new(std::io::ErrorKind::PermissionDenied, inner);
        let err =
            anyhow::Error::new(outer).context("Cannot write\nhint: choose a path you can write to");
        let text = render(&err);
        assert_eq!(
            text.matches("hint: choose a path you can write to").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn an_untyped_error_has_no_hint() {
        let err = anyhow::anyhow!("plain");
        assert_eq!(render(&err), "error: plain");
    }
}
