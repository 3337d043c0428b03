//! What the HTML class needs of a page, read without a browser: an HTML5 document (the
//! doctype, an `html` element), served as `text/html`, with a link to its JSON alternate;
//! and the targets of its `<a>` links, entities decoded, to compare with the JSON twin.

use reqwest::StatusCode;

/// The problems of one page (none when it is a good one).
pub fn page_problems(status: &StatusCode, content_type: &str, body: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if *status != StatusCode::OK {
        problems.push(format!("status {status}"));
    }
    if !content_type.starts_with("text/html") {
        problems.push(format!("content type {content_type:?}, not text/html"));
    }
    let head: String = body.trim_start().chars().take(15).collect();
    if !head.eq_ignore_ascii_case("<!DOCTYPE html>") {
        problems.push("no HTML5 doctype".to_string());
    }
    let lower = body.to_ascii_lowercase();
    if !lower.contains("<html") || !lower.contains("</html>") {
        problems.push("no html element".to_string());
    }
    let alternate = tags(body, "link")
        .chain(tags(body, "a"))
        .any(|tag| attribute(tag, "type").is_some_and(|t| t.contains("json")));
    if !alternate {
        problems.push("no link to a JSON alternate (a link or a with a JSON type)".to_string());
    }
    problems
}

/// The `href` of every `<a>` of `body`, entities decoded.
pub fn hrefs(body: &str) -> Vec<String> {
    tags(body, "a")
        .filter_map(|tag| attribute(tag, "href"))
        .collect()
}

/// The text of each start tag `<name ...>` of `body` (attributes included).
fn tags<'b>(body: &'b str, name: &'b str) -> impl Iterator<Item = &'b str> + 'b {
    let open = format!("<{name}");
    let mut rest = body;
    std::iter::from_fn(move || loop {
        let at = rest.find(&open)?;
        let after = &rest[at + open.len()..];
        let end = after.find('>')?;
        let tag = &after[..end];
        rest = &after[end..];
        // `<a` must end the name: `<abbr` is another element.
        if tag.starts_with(|c: char| c.is_ascii_whitespace()) || tag.is_empty() {
            return Some(tag);
        }
    })
}

/// The decoded value of the quoted attribute `name` in a start tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        let at = rest.find(name)?;
        let before = rest[..at].chars().last();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if !before.is_some_and(|c| c.is_ascii_whitespace()) {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            continue;
        }
        let inner = &value[1..];
        let end = inner.find(quote)?;
        return Some(decode_entities(&inner[..end]));
    }
}

/// Decodes the character references a server may write in an attribute.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_with_their_entities_decoded() {
        let page = r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/json" href="?f=json"></head>
<body><abbr title="x">x</abbr><a href="http:&#x2f;&#x2f;h&#x2f;jobs?a=1&amp;b=2">jobs</a> <a class='c' href='/p'>p</a></body></html>"#;
        assert_eq!(hrefs(page), ["http://h/jobs?a=1&b=2", "/p"]);
        assert!(page_problems(&StatusCode::OK, "text/html; charset=utf-8", page).is_empty());
    }

    #[test]
    fn a_json_answer_is_not_a_page() {
        let problems = page_problems(&StatusCode::OK, "application/json", "{}");
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
