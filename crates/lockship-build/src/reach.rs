//! Unreachable sources fail early: before any large download, one cheap
//! request to each distinct source the build still needs (the hosts of the
//! files not in the cache yet, the index when sdists will fetch their build
//! requirements, the git remotes not fetched yet), with retries and
//! timeouts bounded to a few seconds. One that does not answer stops the
//! build, naming it and the packages that need it.

use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::time::Duration;

use url::Url;

use crate::git::PinSource;
use crate::{BuildError, ImagePlan};

/// [`BuildError::SourceUnreachable`]'s kind for a package index.
pub(crate) const INDEX: &str = "the package index";
/// … for the host of files the lock names.
pub(crate) const HOST: &str = "the host";
/// … for a git remote.
pub(crate) const GIT: &str = "the git remote";

/// How long one probe may wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes a probe reads: a larger answer is an answer.
const PROBE_BYTES: u64 = 64 << 10;

/// One source and who needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// [`INDEX`], [`HOST`] or [`GIT`].
    pub kind: &'static str,
    /// As shown to the user: the index URL, the origin, the remote.
    pub shown: String,
    /// What is asked.
    pub probe: Probe,
    /// The packages that need it, sorted.
    pub packages: Vec<String>,
}

/// The one cheap request a source gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// An HTTP(S) GET, read up to [`PROBE_BYTES`]: any status is an answer.
    Http(Url),
    /// A TCP connection (a git remote over SSH).
    Tcp { host: String, port: u16 },
}

/// `` `a`, `b`, `c` and 4 more `` for a message.
pub(crate) fn list(packages: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out = packages
        .iter()
        .take(SHOWN)
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if packages.len() > SHOWN {
        out.push_str(&format!(" and {} more", packages.len() - SHOWN));
    }
    out
}

/// The sources the build still needs: the origin of each file not in the
/// cache (`file:` URLs are local); the first index when an sdist not
/// downloaded yet (so never built here) will fetch its build requirements
/// from it; each git remote whose commit is not checked out yet.
pub(crate) fn sources(plan: &ImagePlan, cache: &lockship_fetch::Cache) -> Vec<Source> {
    let mut by_origin: BTreeMap<String, (Url, Vec<String>)> = BTreeMap::new();
    let mut sdists: Vec<String> = Vec::new();
    for pin in &plan.wheels {
        let Ok(url) = Url::parse(&pin.url) else {
            continue;
        };
        if cache.get(&pin.sha256).ok().flatten().is_some() {
            continue;
        }
        if pin.from_sdist {
            sdists.push(pin.name.clone());
        }
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        let origin = url.origin().ascii_serialization();
        let entry = by_origin.entry(origin).or_insert((url, Vec::new()));
        entry.1.push(pin.name.clone());
    }
    let mut out: Vec<Source> = Vec::new();
    if let Some(index) = plan.index_urls.first().filter(|_| !sdists.is_empty()) {
        if let Ok(url) = Url::parse(index) {
            out.push(Source {
                kind: INDEX,
                shown: lockship_wheel::redact(&url),
                probe: Probe::Http(url),
                packages: sorted(sdists.clone()),
            });
        }
    }
    out.extend(
        by_origin
            .into_iter()
            .map(|(origin, (url, packages))| Source {
                kind: HOST,
                shown: origin,
                probe: Probe::Http(url),
                packages: sorted(packages),
            }),
    );
    let mut by_remote: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pin in &plan.git {
        if let PinSource::Git { url, .. } = &pin.source {
            if crate::git::cached_source(cache, pin).is_none() {
                by_remote
                    .entry(url.clone())
                    .or_default()
                    .push(pin.name.clone());
            }
        }
    }
    for (remote, packages) in by_remote {
        if let Some(probe) = git_probe(&remote) {
            out.push(Source {
                kind: GIT,
                shown: redact_remote(&remote),
                probe,
                packages: sorted(packages),
            });
        }
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The request that tells whether a git remote answers: the smart-HTTP
/// ref advertisement, or a TCP connection for SSH (`ssh://host/…`,
/// `git@host:path`); `None` for a local repository.
fn git_probe(remote: &str) -> Option<Probe> {
    let remote = remote.strip_prefix("git+").unwrap_or(remote);
    if let Ok(url) = Url::parse(remote) {
        return match url.scheme() {
            "http" | "https" => {
                let mut probe = url.clone();
                let path = format!("{}/info/refs", url.path().trim_end_matches('/'));
                probe.set_path(&path);
                probe.set_query(Some("service=git-upload-pack"));
                Some(Probe::Http(probe))
            }
            "ssh" | "git" => Some(Probe::Tcp {
                host: url.host_str()?.to_string(),
                port: url
                    .port()
                    .unwrap_or(if url.scheme() == "ssh" { 22 } else { 9418 }),
            }),
            _ => None,
        };
    }
    // scp-like: `user@host:path`.
    let (host, _) = remote.split_once(':')?;
    let host = host.rsplit('@').next()?;
    (!host.is_empty() && !host.contains('/')).then(|| Probe::Tcp {
        host: host.to_string(),
        port: 22,
    })
}

/// A remote as shown: without a password.
fn redact_remote(remote: &str) -> String {
    match Url::parse(remote) {
        Ok(url) if url.password().is_some() => lockship_wheel::redact(&url),
        _ => remote.to_string(),
    }
}

/// Probes every source at once; the first (in `sources` order) that does
/// not answer is the error.
pub(crate) fn check(sources: &[Source]) -> Result<(), BuildError> {
    if sources.is_empty() {
        return Ok(());
    }
    let options = lockship_fetch::FetchOptions {
        attempts: 2,
        backoff: Duration::from_millis(250),
        connect_timeout: CONNECT_TIMEOUT,
        read_timeout: CONNECT_TIMEOUT,
        max_download_bytes: PROBE_BYTES,
    };
    let probe_fetcher = lockship_fetch::Fetcher::new(options)?;
    let results: Vec<Option<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .map(|s| {
                let fetcher = &probe_fetcher;
                scope.spawn(move || unanswered(fetcher, &s.probe))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Some("the probe panicked".into()))
            })
            .collect()
    });
    for (source, cause) in sources.iter().zip(results) {
        if let Some(cause) = cause {
            return Err(BuildError::SourceUnreachable {
                kind: source.kind,
                source_url: source.shown.clone(),
                packages: source.packages.clone(),
                cause,
            });
        }
    }
    Ok(())
}

/// `None` when the source answered (any HTTP status, or more bytes than a
/// probe reads), else why not.
fn unanswered(fetcher: &lockship_fetch::Fetcher, probe: &Probe) -> Option<String> {
    match probe {
        Probe::Http(url) => match fetcher.get_bytes(url) {
            Ok(_) => None,
            Err(e @ lockship_fetch::FetchError::Unreachable { .. }) => Some(cause_chain(&e)),
            Err(_) => None,
        },
        Probe::Tcp { host, port } => {
            let addrs = match (host.as_str(), *port).to_socket_addrs() {
                Ok(a) => a.collect::<Vec<_>>(),
                Err(e) => return Some(format!("`{host}` does not resolve ({e})")),
            };
            let mut last = None;
            for addr in addrs {
                match std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                    Ok(_) => return None,
                    Err(e) => last = Some(format!("cannot connect to `{addr}` ({e})")),
                }
            }
            Some(last.unwrap_or_else(|| format!("`{host}` has no address")))
        }
    }
}

/// An error and its causes on one line.
pub(crate) fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_remotes_are_probed_by_their_own_protocol() {
        assert_eq!(
            git_probe("https://git.invalid/org/repo.git"),
            Some(Probe::Http(
                Url::parse("https://git.invalid/org/repo.git/info/refs?service=git-upload-pack")
                    .unwrap()
            ))
        );
        assert_eq!(
            git_probe("git@git.invalid:org/repo.git"),
            Some(Probe::Tcp {
                host: "git.invalid".into(),
                port: 22
            })
        );
        assert_eq!(
            git_probe("ssh://git@git.invalid:2222/org/repo"),
            Some(Probe::Tcp {
                host: "git.invalid".into(),
                port: 2222
            })
        );
        assert_eq!(git_probe("file:///srv/repo"), None);
    }

    #[test]
    fn a_port_nobody_listens_on_is_named_with_its_packages() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let source = Source {
            kind: HOST,
            shown: format!("http://127.0.0.1:{port}"),
            probe: Probe::Http(
                Url::parse(&format!("http://127.0.0.1:{port}/zstd-1.5.whl")).unwrap(),
            ),
            packages: vec!["miniupnpc".into(), "zstd".into()],
        };
        let started = std::time::Instant::now();
        let err = check(&[source]).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "Cannot reach the host `http://127.0.0.1:{port}`, which `miniupnpc`, `zstd` need:"
            )),
            "{msg}"
        );
        assert!(err.hint().unwrap().contains("cannot reach that host"));
        let tcp = Source {
            kind: GIT,
            shown: format!("ssh://git@127.0.0.1:{port}/org/repo"),
            probe: Probe::Tcp {
                host: "127.0.0.1".into(),
                port,
            },
            packages: vec!["together".into()],
        };
        let err = check(&[tcp]).unwrap_err();
        assert!(err.to_string().contains("which `together` needs"), "{err}");
        assert!(err.hint().unwrap().contains("git ls-remote"));
    }

    #[test]
    fn any_answer_is_reachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming().take(2) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        let source = Source {
            kind: INDEX,
            shown: format!("http://127.0.0.1:{port}/simple/"),
            probe: Probe::Http(Url::parse(&format!("http://127.0.0.1:{port}/simple/")).unwrap()),
            packages: vec!["a".into()],
        };
        check(&[source]).unwrap();
        assert_eq!(
            list(&(0..7).map(|i| i.to_string()).collect::<Vec<_>>()),
            "`0`, `1`, `2`, `3`, `4` and 2 more"
        );
    }
}
