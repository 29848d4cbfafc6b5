//! `lockship cache info` and `lockship cache prune`: the cache's size by
//! part, and pruning by last use (`lockship_fetch::prune`).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use lockship_fetch::prune::{self, PruneOptions, Usage};
use serde_json::json;

use super::output::human;
use crate::cli::{CacheCommand, CachePruneArgs};
use crate::settings::GlobalSettings;

/// What each part of the cache holds, by its name under the cache root.
const PARTS: &[(&str, &str)] = &[
    ("sha256", "downloads by hash: wheels, sdists, .debs, Debian indexes, Python archives, base-image blobs"),
    ("layers", "the layer cache: finished layer blobs and their records"),
    ("tmp", "work of builds that stopped (pruned whole when no build runs)"),
    ("keyed/build-env", "sdist build environments (Debian trees)"),
    ("keyed/sdist-wheels", "wheels built from sdists"),
    ("keyed/sdist-logs", "sdist build logs"),
    ("keyed/debian-contents", "Debian Contents indexes, derived"),
    ("keyed/python-standalone", "standalone CPython builds, unpacked"),
    ("keyed/base-tree", "base-image layers, unpacked"),
    ("keyed/base-image-tree", "base images, flattened"),
    ("keyed/git", "git and path dependencies, packed"),
    ("keyed/noop", "records of finished builds (no work when nothing changed)"),
    ("keyed/libdeps", "libdeps scans"),
    ("keyed/libdeps-runtime", "run-time library scans"),
    ("keyed/base-report", "what assembling each runtime base did"),
    ("keyed/standalone-report", "what assembling each standalone-CPython base did"),
    ("keyed/flavor-report", "what assembling each slim/full stand-in did"),
    ("keyed/strip-summary", "what stripping each venv layer saved"),
    ("keyed/compile-skipped", "why bytecode was not compiled, per layer"),
    ("python-standalone.sha256sums", "the refreshed table of standalone CPython archives"),
];

pub fn run(command: CacheCommand, global: &GlobalSettings) -> Result<ExitCode> {
    let root = global.cache_dir()?;
    match command {
        CacheCommand::Info => info(&root, global),
        CacheCommand::Prune(args) => prune_cache(&root, &args, global),
    }
}

fn info(root: &Path, global: &GlobalSettings) -> Result<ExitCode> {
    let parts = if root.is_dir() {
        prune::usage(root)?
    } else {
        Vec::new()
    };
    let total: u64 = parts.iter().map(|p| p.bytes).sum();
    if global.json {
        let parts: Vec<_> = parts.iter().map(part_json).collect();
        let out = json!({ "cache_dir": root, "bytes": total, "parts": parts });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("cache: {} ({})", root.display(), human(total));
    if !parts.is_empty() {
        println!(
            "{:<30} {:>8} {:>10}  {:<14} holds",
            "part", "entries", "size", "last used"
        );
    }
    for p in &parts {
        println!(
            "{:<30} {:>8} {:>10}  {:<14} {}",
            p.name,
            p.entries,
            human(p.bytes),
            p.newest.map(ago).unwrap_or_default(),
            describe(&p.name)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prune_cache(root: &Path, args: &CachePruneArgs, global: &GlobalSettings) -> Result<ExitCode> {
    let older_than = match &args.older_than {
        Some(text) => Some(parse_age(text)?),
        None => None,
    };
    if !root.is_dir() {
        if !global.quiet {
            eprintln!("no cache at {}: nothing to prune", root.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cache = match prune::lock_exclusive(root, false)? {
        Some(cache) => cache,
        None => {
            if !global.quiet {
                eprintln!("waiting for the builds using {} to finish", root.display());
            }
            prune::lock_exclusive(root, true)?.expect("a blocking lock is taken")
        }
    };
    let report = cache.prune(PruneOptions {
        older_than,
        dry_run: args.dry_run,
    })?;
    if global.json {
        let parts: Vec<_> = report.removed.iter().map(part_json).collect();
        let out = json!({
            "cache_dir": root,
            "dry_run": args.dry_run,
            "removed_entries": report.entries(),
            "removed_bytes": report.bytes(),
            "kept_entries": report.kept,
            "removed": parts,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if !global.quiet {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for p in &report.removed {
            println!(
                "{verb} {:>6} entries, {:>10}  {}",
                p.entries,
                human(p.bytes),
                p.name
            );
        }
        println!(
            "{verb} {} entries ({}); kept {}",
            report.entries(),
            human(report.bytes()),
            report.kept
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn part_json(p: &Usage) -> serde_json::Value {
    let secs = |t: Option<SystemTime>| {
        t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    };
    json!({
        "name": p.name,
        "entries": p.entries,
        "bytes": p.bytes,
        "newest": secs(p.newest),
        "oldest": secs(p.oldest),
        "holds": describe(&p.name),
    })
}

fn describe(part: &str) -> &'static str {
    PARTS
        .iter()
        .find(|(name, _)| *name == part)
        .map_or("", |(_, what)| what)
}

/// `5m ago`, `3h ago`, `12d ago`.
fn ago(when: SystemTime) -> String {
    let secs = SystemTime::now()
        .duration_since(when)
        .unwrap_or_default()
        .as_secs();
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// `30d`, `12h`, `90m`, `45s`, `2w`.
fn parse_age(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if unit_secs > 0 => Ok(Duration::from_secs(n.saturating_mul(unit_secs))),
        _ => bail!(
            "`--older-than {text}` is not an age\nhint: write a number and a unit: `30d`, `12h`, `90m`, `45s` or `2w`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_uv_and_docker_users_write_them() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_age("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(parse_age("0s").unwrap(), Duration::ZERO);
        for bad in ["30", "d", "30 days", "-1d", "1.5d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
