//! The writer of WPS documents: element by element, with a stack of open elements
//! (`end()` closes the innermost, `finish()` all), escaping through the one escaper of
//! [`super::xml`] (which also replaces the characters XML 1.0 cannot carry, since Seed
//! error texts and job messages end up in these documents).

/// Writes one document into a string, element by element.
#[derive(Debug, Default)]
pub(crate) struct XmlWriter {
    out: String,
    open: Vec<String>,
}

impl XmlWriter {
    /// A writer with the XML declaration written.
    pub(crate) fn new() -> Self {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            open: Vec::new(),
        }
    }

    /// `<name attrs>`; close it with [`XmlWriter::end`].
    pub(crate) fn start(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        self.tag(name, attributes);
        self.out.push('>');
        self.open.push(name.to_string());
        self
    }

    /// Closes the innermost open element.
    pub(crate) fn end(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push('>');
        }
        self
    }

    /// `<name attrs/>`.
    pub(crate) fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        self.tag(name, attributes);
        self.out.push_str("/>");
        self
    }

    /// `<name attrs>text</name>`.
    pub(crate) fn text_element(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
        text: &str,
    ) -> &mut Self {
        self.start(name, attributes);
        self.text(text);
        self.end()
    }

    /// Escaped character data.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.out, text, false);
        self
    }

    /// Markup written as is (an already serialised element).
    pub(crate) fn raw(&mut self, markup: &str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// The document, every open element closed.
    pub(crate) fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        self.out
    }

    fn tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
    }
}

/// Appends `text` escaped for character data (`attribute = false`) or a double-quoted
/// attribute value, by the one escaper of [`super::xml`].
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    if attribute {
        out.push_str(&super::xml::escape_attr(text));
    } else {
        out.push_str(&super::xml::escape_text(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut w = XmlWriter::new();
        w.start("a", &[("k", "x\"<&>\ny")])
            .text("1 < 2 & 3\u{1}")
            .end();
        let doc = w.finish();
        assert!(doc.ends_with("<a k=\"x&quot;&lt;&amp;&gt;&#10;y\">1 &lt; 2 &amp; 3\u{FFFD}</a>"));
    }
}
