//! `hint:` lines: what the user can do about an error, from every typed
//! error in its chain. Each library's error enum answers through [`Hint`];
//! [`HINTS`] is the one list of the error types the binary asks.

use std::error::Error;

/// An error that may tell the user what to do.
trait Hint {
    fn hint(&self) -> Option<String>;
}

/// The one list of the error types a cause may be, in the order they are
/// tried: the library crates' errors, each answering with its own `hint()`,
/// then the errors whose hints the binary words itself (below).
macro_rules! hints {
    (own: [$($own:ty),* $(,)?], binary: [$($binary:ty),* $(,)?] $(,)?) => {
        $(impl Hint for $own {
            fn hint(&self) -> Option<String> {
                <$own>::hint(self)
            }
        })*

        const HINTS: &[HintOf] = &[$(hint_of::<$own>,)* $(hint_of::<$binary>,)*];
    };
}

hints!(
    own: [
        lockship_runtime::RuntimeError,
        lockship_debian::DebianError,
        lockship_oci::OciError,
        lockship_build::BuildError,
        lockship_layer::LayerError,
        lockship_project::ProjectError,
        lockship_wheel::WheelError,
        lockship_sdist::SdistError,
        lockship_python::PythonError,
        lockship_sandbox::SandboxError,
        lockship_elf::ElfError,
        lockship_registry::RegistryError,
        lockship_dockerfile::DockerfileError,
        lockship_bench::BenchError,
    ],
    binary: [lockship_fetch::FetchError, std::io::Error],
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

/// The hint of one cause, if it is a typed error with one.
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    HINTS.iter().find_map(|of| of(cause))
}

/// The error, its causes, and `hint:` lines, as printed on stderr.
///
/// The chain is walked once and each cause gives its own hint. A wrapper
/// that passes its source's hint on (`BuildError::Project(e) => e.hint()`)
/// is `#[error(transparent)]`, so the wrapped error is not a cause of its
/// own, and a layer producer's error travels typed
/// (`LayerError::Producer`), never as text: no hint comes twice.
pub fn render(err: &anyhow::Error) -> String {
    let mut message = format!("error: {err}");
    let mut hints = Vec::new();
    for (depth, cause) in err.chain().enumerate() {
        if depth > 0 {
            message.push_str(&format!("\n  caused by: {cause}"));
        }
        hints.extend(hint(cause));
    }
    for hint in hints {
        message.push_str(&format!("\nhint: {hint}"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockship_build::BuildError;
    use lockship_layer::LayerError;
    use lockship_runtime::RuntimeError;

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

    /// The hint of `RuntimeError::NoMirror`.
    fn no_mirror_hint() -> String {
        lockship_runtime::RuntimeError::NoMirror
            .hint()
            .expect("it has a hint")
    }

    #[test]
    fn a_runtime_hint_through_the_build_and_a_context_is_printed_once() {
        // As the runtime's layer closure fails inside the layer cache, and
        // the build wraps what comes back.
        let produced = LayerError::Producer(Box::new(RuntimeError::NoMirror));
        let err = anyhow::Error::new(BuildError::from(produced)).context("Cannot build `app`");
        let text = render(&err);
        let line = format!("hint: {}", no_mirror_hint());
        assert_eq!(text.matches(&line).count(), 1, "{text}");
        assert!(text.starts_with("error: Cannot build `app`\n"), "{text}");
        assert!(text.contains(&RuntimeError::NoMirror.to_string()), "{text}");
        assert_eq!(text.matches("\nhint: ").count(), 1, "{text}");
    }

    #[test]
    fn a_runtime_error_taken_back_from_the_layer_cache_prints_its_hint_once() {
        // The runtime takes its own error back from the cache
        // (`into_producer`), and the build wraps it transparently.
        let produced = LayerError::Producer(Box::new(RuntimeError::NoMirror));
        let runtime: RuntimeError = produced.into_producer().expect("the runtime's own error");
        let err = anyhow::Error::new(BuildError::from(runtime)).context("Cannot build `app`");
        let text = render(&err);
        let line = format!("hint: {}", no_mirror_hint());
        assert_eq!(text.matches(&line).count(), 1, "{text}");
        assert_eq!(text.matches("\nhint: ").count(), 1, "{text}");
    }

    #[test]
    fn distinct_hints_along_the_chain_are_each_printed() {
        // The build's own hint for an I/O failure, and the I/O error's own.
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let build = BuildError::Io {
            action: "write",
            path: "out".into(),
            source: io,
        };
        let text = render(&anyhow::Error::new(build));
        assert!(
            text.contains("\nhint: check that the disk has room and the path is readable"),
            "{text}"
        );
        assert!(
            text.ends_with("\nhint: choose a path you can write to"),
            "{text}"
        );
    }

    #[test]
    fn python_and_sandbox_errors_give_their_hints_once() {
        // Bare, under a context.
        let python = lockship_python::PythonError::BadSource {
            value: "conda".into(),
        };
        let hint = python.hint().expect("it has a hint");
        let text = render(&anyhow::Error::new(python).context("Cannot choose the Python"));
        assert!(text.ends_with(&format!("\nhint: {hint}")), "{text}");
        let sandbox = lockship_sandbox::SandboxError::NotFound {
            searched: String::new(),
        };
        let hint = sandbox.hint().expect("it has a hint");
        let text = render(&anyhow::Error::new(sandbox).context("Cannot compile bytecode"));
        assert!(text.ends_with(&format!("\nhint: {hint}")), "{text}");
        // Through the build, which passes the Python's hint on: once.
        let python = lockship_python::PythonError::BadSource {
            value: "conda".into(),
        };
        let hint = python.hint().expect("it has a hint");
        let text = render(&anyhow::Error::new(BuildError::from(python)));
        assert_eq!(text.matches(&format!("hint: {hint}")).count(), 1, "{text}");
    }

    #[test]
    fn an_untyped_error_has_no_hint() {
        let err = anyhow::anyhow!("plain");
        assert_eq!(render(&err), "error: plain");
    }
}
