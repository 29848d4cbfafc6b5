//! What lockship writes beside the wheel's own files: the entry-point
//! launchers, `INSTALLER`, and the new `RECORD`.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;

use super::entry_points::launcher;
use super::{mode, Ctx, Installed, WheelMeta};
use crate::record::{csv_field, hash_b64};
use crate::staging::Staging;
use crate::WheelError;

/// Entry points, INSTALLER, and the new RECORD. Returns every installed
/// path as written in the new `RECORD`, sorted.
pub(super) fn write_launchers_and_record(
    ctx: &Ctx,
    staging: &mut Staging,
    mut installed: Vec<Installed>,
    meta: &WheelMeta,
) -> Result<Vec<String>, WheelError> {
    let venv = ctx.venv;
    let site_packages = venv.site_packages();
    let dist_info_dir = format!("{site_packages}/{}", meta.dist_info);
    for (script, module, attr) in &meta.entry_points {
        let in_image = format!("{}/{script}", venv.bin_dir());
        let content = launcher(&venv.venv_python(), module, attr);
        let mut out = staging
            .create(&in_image)
            .map_err(|r| ctx.refused(&meta.entry_points_name, r))?;
        write_all(&mut out, content.as_bytes(), true).map_err(|e| ctx.io(e))?;
        installed.retain(|i| i.in_image != in_image);
        installed.push(Installed {
            in_image,
            hash: hash_b64(content.as_bytes()),
            size: content.len() as u64,
        });
    }
    let installer = b"lockship\n";
    let installer_path = format!("{dist_info_dir}/INSTALLER");
    let mut out = staging
        .create(&installer_path)
        .map_err(|r| ctx.refused(&installer_path, r))?;
    write_all(&mut out, installer, false).map_err(|e| ctx.io(e))?;
    installed.retain(|i| i.in_image != installer_path);
    installed.push(Installed {
        in_image: installer_path,
        hash: hash_b64(installer),
        size: installer.len() as u64,
    });

    let record_name = &meta.record_name;
    let mut lines: Vec<(String, String)> = installed
        .iter()
        .map(|i| {
            let path = relative_to(&site_packages, &i.in_image);
            let line = format!("{},sha256={},{}", csv_field(&path), i.hash, i.size);
            (path, line)
        })
        .collect();
    lines.push((record_name.clone(), format!("{},,", csv_field(record_name))));
    lines.sort();
    let mut record_out = String::new();
    for (_, line) in &lines {
        record_out.push_str(line);
        record_out.push('\n');
    }
    let record_path = format!("{site_packages}/{record_name}");
    let mut out = staging
        .create(&record_path)
        .map_err(|r| ctx.refused(record_name, r))?;
    write_all(&mut out, record_out.as_bytes(), false).map_err(|e| ctx.io(e))?;
    Ok(lines.into_iter().map(|(path, _)| path).collect())
}

fn write_all(file: &mut std::fs::File, content: &[u8], executable: bool) -> io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(mode(executable)))?;
    file.write_all(content)?;
    file.flush()
}

/// `to` relative to the directory `from` (both absolute, inside the image).
pub(super) fn relative_to(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}
