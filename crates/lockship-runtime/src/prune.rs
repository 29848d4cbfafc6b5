//! What a Python runtime never needs, and is therefore not unpacked.
//!
//! Each rule is proven safe by the end-to-end test that runs the assembled
//! interpreter (`tests/base_image.rs`), which imports every module the issue
//! names, verifies HTTPS certificates and resolves time zones.

/// One pruning rule: paths matching `prefix` (or, with `stdlib`, a path
/// under the Python stdlib directory) are not unpacked.
#[derive(Debug, Clone, Copy)]
pub struct PruneRule {
    /// The in-image path prefix.
    pub prefix: &'static str,
    /// Why it is safe to drop.
    pub why: &'static str,
}

/// Prefixes dropped from every package.
pub const PRUNE_PREFIXES: &[PruneRule] = &[
    PruneRule {
        prefix: "/usr/share/doc/",
        why: "documentation (copyright files are kept)",
    },
    PruneRule {
        prefix: "/usr/share/man/",
        why: "man pages",
    },
    PruneRule {
        prefix: "/usr/share/info/",
        why: "info pages",
    },
    PruneRule {
        prefix: "/usr/share/locale/",
        why: "message catalogues; the image runs with LANG=C.UTF-8",
    },
    PruneRule {
        prefix: "/usr/share/lintian/",
        why: "Debian packaging checks",
    },
    PruneRule {
        prefix: "/usr/share/bug/",
        why: "Debian bug-report scripts",
    },
    PruneRule {
        prefix: "/usr/share/binfmts/",
        why: "binfmt_misc registration, a host concern",
    },
    PruneRule {
        prefix: "/usr/share/pixmaps/",
        why: "desktop icons",
    },
    PruneRule {
        prefix: "/usr/share/applications/",
        why: "desktop entries",
    },
    PruneRule {
        prefix: "/usr/share/debconf/",
        why: "debconf is not installed",
    },
    PruneRule {
        prefix: "/usr/share/python3/",
        why: "Debian's py3compile helpers, which need dpkg",
    },
    PruneRule {
        prefix: "/usr/share/zoneinfo/right/",
        why: "leap-second time zones; zoneinfo uses the posix ones",
    },
    PruneRule {
        prefix: "/etc/cron.daily/",
        why: "no cron in a container",
    },
    PruneRule {
        prefix: "/etc/logrotate.d/",
        why: "no logrotate in a container",
    },
    PruneRule {
        prefix: "/etc/init.d/",
        why: "no init scripts in a container",
    },
    PruneRule {
        prefix: "/usr/lib/tmpfiles.d/",
        why: "systemd configuration",
    },
    PruneRule {
        prefix: "/usr/sbin/update-ca-certificates",
        why: "lockship builds the CA bundle itself",
    },
    PruneRule {
        prefix: "/usr/sbin/tzconfig",
        why: "a debconf helper",
    },
];

/// Directories and modules under the stdlib (`/usr/lib/python3.X/`) that a
/// runtime never imports.
pub const PRUNE_STDLIB: &[PruneRule] = &[
    PruneRule {
        prefix: "test/",
        why: "the regression test suite (26 MB with its data)",
    },
    PruneRule {
        prefix: "idlelib/",
        why: "the IDLE editor, which needs Tk",
    },
    PruneRule {
        prefix: "tkinter/",
        why: "Tk bindings; Tk is not installed",
    },
    PruneRule {
        prefix: "turtledemo/",
        why: "turtle graphics demos",
    },
    PruneRule {
        prefix: "turtle.py",
        why: "needs tkinter",
    },
    PruneRule {
        prefix: "lib2to3/",
        why: "the 2to3 translator, deprecated",
    },
    PruneRule {
        prefix: "ensurepip/",
        why: "pip does not belong in a runtime image",
    },
    PruneRule {
        prefix: "pydoc_data/",
        why: "pydoc's topic help",
    },
    PruneRule {
        prefix: "unittest/test/",
        why: "unittest's own tests",
    },
    PruneRule {
        prefix: "ctypes/test/",
        why: "ctypes' own tests",
    },
    PruneRule {
        prefix: "sqlite3/test/",
        why: "sqlite3's own tests",
    },
    PruneRule {
        prefix: "distutils/tests/",
        why: "distutils' own tests",
    },
    PruneRule {
        prefix: "lib-dynload/_test",
        why: "C test helpers",
    },
    PruneRule {
        prefix: "lib-dynload/_ctypes_test",
        why: "C test helpers",
    },
    PruneRule {
        prefix: "lib-dynload/xx",
        why: "C example modules",
    },
    PruneRule {
        prefix: "config-3.",
        why: "static library and Makefile for embedding",
    },
];

/// Whether an in-image path is unpacked. `stdlib` is `/usr/lib/python3.X/`.
pub fn keep(path: &str, stdlib: &str) -> bool {
    if path.starts_with("/usr/share/doc/") {
        // Licences stay: scanners and compliance read them.
        return path.ends_with("/copyright") || path.ends_with('/');
    }
    if path.contains("/__pycache__/") {
        // Stale bytecode from the package; lockship compiles its own.
        return false;
    }
    if path.contains("/gconv/") && path.contains("/usr/lib/") {
        // glibc's iconv modules (8 MB). CPython's codecs never use iconv.
        return false;
    }
    if PRUNE_PREFIXES.iter().any(|r| path.starts_with(r.prefix)) {
        return false;
    }
    if let Some(rest) = path.strip_prefix(stdlib) {
        if PRUNE_STDLIB.iter().any(|r| rest.starts_with(r.prefix)) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::keep;

    const STDLIB: &str = "/usr/lib/python3.11/";

    #[test]
    fn drops_what_a_runtime_never_needs() {
        for path in [
            "/usr/share/man/man1/python3.11.1.gz",
            "/usr/share/doc/libc6/changelog.Debian.gz",
            "/usr/share/locale/de/LC_MESSAGES/libc.mo",
            "/usr/lib/python3.11/test/test_ssl.py",
            "/usr/lib/python3.11/idlelib/idle.py",
            "/usr/lib/python3.11/ensurepip/__init__.py",
            "/usr/lib/python3.11/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
            "/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc",
            "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so",
            "/usr/share/zoneinfo/right/Europe/Paris",
        ] {
            assert!(!keep(path, STDLIB), "{path} should be dropped");
        }
    }

    #[test]
    fn keeps_what_it_needs() {
        for path in [
            "/usr/bin/python3.11",
            "/usr/lib/python3.11/json/decoder.py",
            "/usr/lib/python3.11/unittest/mock.py",
            "/usr/share/doc/libc6/copyright",
            "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt",
            "/usr/share/zoneinfo/Europe/Paris",
            "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
            "/etc/services",
        ] {
            assert!(keep(path, STDLIB), "{path} should be kept");
        }
    }
}
