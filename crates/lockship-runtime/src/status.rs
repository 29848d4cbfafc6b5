//! The dpkg database that scanners (trivy, grype, syft) read: one file per
//! package under `/var/lib/dpkg/status.d/`, as distroless images have it.

use std::path::Path;

use crate::fsbase::write_file;
use crate::RuntimeError;

/// Writes `status.d/<package>` (its control stanza, marked installed) and,
/// when the package has them, `status.d/<package>.md5sums`.
pub fn write_status(
    root: &Path,
    package: &str,
    control: &str,
    md5sums: Option<&str>,
) -> Result<(), RuntimeError> {
    let mut stanza = String::new();
    for line in control.trim_end().lines() {
        stanza.push_str(line);
        stanza.push('\n');
        if line.starts_with("Package:") {
            stanza.push_str("Status: install ok installed\n");
        }
    }
    write_file(
        root,
        &format!("/var/lib/dpkg/status.d/{package}"),
        stanza.as_bytes(),
    )?;
    if let Some(sums) = md5sums {
        write_file(
            root,
            &format!("/var/lib/dpkg/status.d/{package}.md5sums"),
            sums.as_bytes(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_marked_installed() {
        let dir = tempfile::tempdir().unwrap();
        write_status(
            dir.path(),
            "netbase",
            "Package: netbase\nVersion: 6.4\n",
            Some("abc  etc/services\n"),
        )
        .unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("var/lib/dpkg/status.d/netbase")).unwrap();
        assert_eq!(
            text,
            "Package: netbase\nStatus: install ok installed\nVersion: 6.4\n"
        );
        assert!(dir
            .path()
            .join("var/lib/dpkg/status.d/netbase.md5sums")
            .exists());
    }
}
