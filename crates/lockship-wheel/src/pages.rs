//! Parsing simple-API project pages: PEP 691 JSON and PEP 503 HTML.

use std::collections::HashMap;

use serde::Deserialize;
use url::Url;

use crate::index::{redact, IndexFile};
use crate::WheelError;

/// The PEP 691 JSON media type.
pub(crate) const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
    #[serde(default)]
    size: Option<u64>,
}

/// Parses a PEP 691 JSON project page fetched from `page` (the final URL,
/// after redirects). File URLs are resolved against it.
pub fn parse_json_page(body: &[u8], page: &Url) -> Result<Vec<IndexFile>, WheelError> {
    let parsed: JsonPage = serde_json::from_slice(body).map_err(|e| WheelError::IndexPage {
        url: redact(page),
        reason: e.to_string(),
    })?;
    parsed
        .files
        .into_iter()
        .map(|f| {
            check_filename(page, &f.filename)?;
            let (url, fragment_sha) = resolve(page, page, &f.url)?;
            let (yanked, yanked_reason) = match f.yanked {
                Some(serde_json::Value::Bool(b)) => (b, None),
                Some(serde_json::Value::String(reason)) => (true, Some(reason)),
                _ => (false, None),
            };
            Ok(IndexFile {
                filename: f.filename,
                url,
                sha256: f
                    .hashes
                    .get("sha256")
                    .map(|h| h.to_ascii_lowercase())
                    .or(fragment_sha),
                requires_python: f.requires_python.filter(|s| !s.is_empty()),
                yanked,
                yanked_reason: yanked_reason.filter(|s| !s.is_empty()),
                size: f.size,
            })
        })
        .collect()
}

/// Parses a PEP 503 HTML project page fetched from `page`. Honours
/// `<base href>`, `#sha256=` fragments, `data-requires-python` and
/// `data-yanked`.
pub fn parse_html_page(body: &str, page: &Url) -> Result<Vec<IndexFile>, WheelError> {
    let mut base = page.clone();
    let mut files = Vec::new();
    let body = strip_comments(body);
    let mut rest = body.as_str();
    while let Some(start) = find_tag(rest) {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let tag = &after[..end];
        rest = &after[end + 1..];
        let (name, attrs) = split_tag(tag);
        if name.eq_ignore_ascii_case("base") {
            if let Some(href) = attrs.get("href") {
                base = page.join(href).map_err(|e| WheelError::IndexPage {
                    url: redact(page),
                    reason: format!("bad `<base href=\"{href}\">`: {e}"),
                })?;
            }
        } else if name.eq_ignore_ascii_case("a") {
            let Some(href) = attrs.get("href") else {
                continue;
            };
            let text_end = rest.find("</").unwrap_or(rest.len());
            let text = decode_entities(rest[..text_end].trim());
            let (url, sha256) = resolve(page, &base, href)?;
            let from_url = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .map(percent_decode)
                .filter(|s| !s.is_empty());
            let filename = from_url.unwrap_or(text);
            check_filename(page, &filename)?;
            let yanked_attr = attrs.get("data-yanked");
            files.push(IndexFile {
                filename,
                url,
                sha256,
                requires_python: attrs
                    .get("data-requires-python")
                    .filter(|s| !s.is_empty())
                    .cloned(),
                yanked: yanked_attr.is_some(),
                yanked_reason: yanked_attr.filter(|s| !s.is_empty()).cloned(),
                size: None,
            });
        }
    }
    Ok(files)
}

/// Refuses a page that names a file with something other than a plain
/// base name (`/abs/path`, `../x`, a decoded `%2F`): it would become a path.
fn check_filename(page: &Url, filename: &str) -> Result<(), WheelError> {
    lockship_fetch::check_file_name(filename).map_err(|e| WheelError::IndexPage {
        url: redact(page),
        reason: e.to_string(),
    })
}

/// The page without `<!-- … -->` comments.
fn strip_comments(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start + 4..].find("-->") {
            Some(end) => &rest[start + 4 + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Finds the next `<` that opens an element (not a comment or closing tag).
fn find_tag(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find('<') {
        let at = from + i;
        let next = s[at + 1..].chars().next()?;
        if next.is_ascii_alphabetic() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Splits `a href="x" data-yanked` into the element name and its attributes
/// (values entity-decoded; a bare attribute has an empty value).
fn split_tag(tag: &str) -> (String, HashMap<String, String>) {
    let tag = tag.trim_end_matches('/');
    let name_end = tag
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(tag.len());
    let name = tag[..name_end].to_string();
    let mut attrs = HashMap::new();
    let mut chars = tag[name_end..].trim_start();
    while !chars.is_empty() {
        let key_end = chars
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(chars.len());
        let key = chars[..key_end].to_ascii_lowercase();
        chars = chars[key_end..].trim_start();
        let mut value = String::new();
        if let Some(after_eq) = chars.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            let (raw, rest) = match after_eq.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after_eq[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after_eq
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after_eq.len());
                    (&after_eq[..end], &after_eq[end..])
                }
            };
            value = decode_entities(raw);
            chars = rest.trim_start();
        }
        if !key.is_empty() {
            attrs.insert(key, value);
        }
    }
    (name, attrs)
}

/// Resolves `href` against `base`, strips the fragment and returns the
/// `sha256=` hash it carried.
fn resolve(page: &Url, base: &Url, href: &str) -> Result<(Url, Option<String>), WheelError> {
    let mut url = base.join(href).map_err(|e| WheelError::IndexPage {
        url: redact(page),
        reason: format!("bad file URL `{href}`: {e}"),
    })?;
    let sha = url.fragment().and_then(|f| {
        f.strip_prefix("sha256=")
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
    });
    url.set_fragment(None);
    Ok((url, sha))
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("http://127.0.0.1:1/simple/demo-pkg/").unwrap()
    }

    #[test]
    fn hostile_index_file_name_with_a_path_is_refused() {
        // JSON: the file name is given as is; an absolute path is refused.
        let json =
            br#"{"files": [{"filename": "/some/dir/evil", "url": "evil-1.0.tar.gz", "size": 10}]}"#;
        let err = parse_json_page(json, &page()).unwrap_err();
        assert_eq!(
            err.to_string().split(": ").last(),
            Some("it is a path, not a plain file name")
        );
        // HTML: `%2F` in the link decodes to `/`.
        let html = r#"<a href="..%2F..%2Fevil-1.0.tar.gz">x</a>"#;
        let err = parse_html_page(html, &page()).unwrap_err();
        assert!(err.to_string().contains("`../../evil-1.0.tar.gz`"), "{err}");
        // PEP 700 sizes are kept, so the download is held to them.
        let json = br#"{"files": [{"filename": "demo_pkg-1.0.tar.gz", "url": "demo_pkg-1.0.tar.gz", "size": 10}]}"#;
        assert_eq!(parse_json_page(json, &page()).unwrap()[0].size, Some(10));
    }

    #[test]
    fn html_page_with_relative_urls_hashes_and_attributes() {
        let sha = "ab".repeat(32);
        let html = format!(
            r#"<!DOCTYPE html><html><body><h1>Links for demo-pkg</h1>
<!-- <a href="ignored.whl">x</a> -->
<a href="../../files/demo_pkg-1.0-py3-none-any.whl#sha256={sha}" data-requires-python="&gt;=3.8">demo_pkg-1.0-py3-none-any.whl</a><br/>
<a href='/other/demo_pkg-0.9-py3-none-any.whl#md5=00' data-yanked="broken &amp; bad">demo_pkg-0.9-py3-none-any.whl</a>
<A HREF="demo_pkg-0.8.tar.gz" data-yanked>demo_pkg-0.8.tar.gz</A>
</body></html>"#
        );
        let files = parse_html_page(&html, &page()).unwrap();
        let shown: Vec<String> = files
            .iter()
            .map(|f| {
                format!(
                    "{} {} sha={:?} rp={:?} yanked={} {:?}",
                    f.filename,
                    f.url,
                    f.sha256.as_deref().map(|s| &s[..4]),
                    f.requires_python,
                    f.yanked,
                    f.yanked_reason
                )
            })
            .collect();
        insta::assert_snapshot!(shown.join("\n"), @r#"
demo_pkg-1.0-py3-none-any.whl http://127.0.0.1:1/files/demo_pkg-1.0-py3-none-any.whl sha=Some("abab") rp=Some(">=3.8") yanked=false None
demo_pkg-0.9-py3-none-any.whl http://127.0.0.1:1/other/demo_pkg-0.9-py3-none-any.whl sha=None rp=None yanked=true Some("broken & bad")
demo_pkg-0.8.tar.gz http://127.0.0.1:1/simple/demo-pkg/demo_pkg-0.8.tar.gz sha=None rp=None yanked=true None
"#);
    }

    #[test]
    fn html_page_honours_base_href() {
        let html = r#"<html><head><base href="http://127.0.0.1:2/mirror/"></head>
<a href="x-1.0-py3-none-any.whl">x-1.0-py3-none-any.whl</a>"#;
        let files = parse_html_page(html, &page()).unwrap();
        assert_eq!(
            files[0].url.as_str(),
            "http://127.0.0.1:2/mirror/x-1.0-py3-none-any.whl"
        );
    }

    #[test]
    fn json_page() {
        let sha = "CD".repeat(32);
        let json = format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo-pkg","files":[
{{"filename":"demo_pkg-1.0-py3-none-any.whl","url":"../../files/demo_pkg-1.0-py3-none-any.whl","hashes":{{"sha256":"{sha}"}},"requires-python":">=3.8","yanked":false}},
{{"filename":"demo_pkg-0.9-py3-none-any.whl","url":"https://127.0.0.1:3/f/demo_pkg-0.9-py3-none-any.whl","hashes":{{}},"yanked":"security hole"}},
{{"filename":"demo_pkg-0.8-py3-none-any.whl","url":"demo_pkg-0.8-py3-none-any.whl","hashes":{{"md5":"00"}},"yanked":true}}
]}}"#
        );
        let files = parse_json_page(json.as_bytes(), &page()).unwrap();
        assert_eq!(
            files[0].url.as_str(),
            "http://127.0.0.1:1/files/demo_pkg-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some(&*"cd".repeat(32)));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert!(!files[0].yanked);
        assert_eq!(files[1].sha256, None);
        assert!(files[1].yanked);
        assert_eq!(files[1].yanked_reason.as_deref(), Some("security hole"));
        assert!(files[2].yanked && files[2].yanked_reason.is_none());
        assert_eq!(
            files[2].url.as_str(),
            "http://127.0.0.1:1/simple/demo-pkg/demo_pkg-0.8-py3-none-any.whl"
        );
        let err = parse_json_page(b"{not json", &page()).unwrap_err();
        assert!(matches!(err, WheelError::IndexPage { .. }));
    }

    #[test]
    fn percent_decoding_of_file_names() {
        assert_eq!(percent_decode("a%2Bb%zz%4"), "a+b%zz%4");
    }
}
