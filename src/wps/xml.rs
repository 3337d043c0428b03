//! Safe XML reading (and writing helpers) for the WPS façade.
//!
//! Reading ([`parse`]) is deliberately narrow:
//! - a `<!DOCTYPE` is refused outright, so there is no DTD, no internal or external entity
//!   and no entity expansion of any kind (billion laughs, XXE);
//! - only the five predefined entities (`&lt;` `&gt;` `&amp;` `&apos;` `&quot;`) and
//!   character references are accepted;
//! - the document must be UTF-8 (or declare US-ASCII/UTF-8), at most `max_bytes` long and
//!   at most `max_depth` elements deep;
//! - namespaces are resolved: every element and attribute carries its namespace URI, the
//!   default namespace applies to elements only (unqualified attributes stay unqualified,
//!   as the Namespaces in XML recommendation says), an undeclared prefix is an error.
//!
//! Errors say what is wrong and where (line and column).
//!
//! Writing is plain string building: [`escape_text`], [`escape_attr`], the small
//! [`super::writer::XmlWriter`], and [`Element::to_xml`] / [`Element::inner_xml`] to echo received XML
//! (complex data passed by value) back out with its namespaces declared.

use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The namespace the `xml` prefix is bound to (and no other prefix may be).
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Limits on what `parse` accepts.
///
/// The namespace and attribute caps are far above what WPS clients send (OWSLib, QGIS and
/// the OGC test suite declare fewer than 15 namespaces on the root element and none
/// elsewhere) and keep the work per element bounded: a document that declares hundreds of
/// namespaces on every element (a "namespace bomb") is refused at the first element over the
/// cap instead of costing seconds of CPU.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted (the root is depth 1).
    pub max_depth: usize,
    /// Namespace declarations (`xmlns`, `xmlns:p`) accepted on one element.
    pub max_namespaces_per_element: usize,
    /// Namespace declarations accepted in the whole document.
    pub max_namespaces: usize,
    /// Attributes (namespace declarations included) accepted on one element.
    pub max_attributes_per_element: usize,
    /// Longest a parse may take; a document still being read then is refused. `None`: no
    /// time limit.
    pub time_budget: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_namespaces_per_element: MAX_NAMESPACES_PER_ELEMENT,
            max_namespaces: MAX_NAMESPACES,
            max_attributes_per_element: MAX_ATTRIBUTES_PER_ELEMENT,
            time_budget: None,
        }
    }
}

/// Default of [`Limits::max_namespaces_per_element`].
pub const MAX_NAMESPACES_PER_ELEMENT: usize = 64;
/// Default of [`Limits::max_namespaces`].
pub const MAX_NAMESPACES: usize = 512;
/// Default of [`Limits::max_attributes_per_element`].
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 256;

/// An element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI (`None` when unqualified).
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes, namespace declarations (`xmlns`, `xmlns:p`) left out.
    pub attributes: Vec<Attribute>,
    /// Child elements and text, in document order (comments and PIs dropped).
    pub children: Vec<Node>,
}

/// An attribute with its namespace resolved (`None` for an unprefixed attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI (`None` when unqualified).
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Value, entities and character references replaced, whitespace normalised.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text and CDATA, unescaped.
    Text(String),
}

/// Why a document was refused, with where (line/column or byte offset) when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

/// The XLink namespace (`xlink:href`).
pub const XLINK: &str = "http://www.w3.org/1999/xlink";

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    let started = Instant::now();
    if bytes.len() > limits.max_bytes {
        return Err(XmlError(format!(
            "The XML document is {} bytes long; at most {} bytes are accepted.",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        XmlError(format!(
            "The XML document is not valid UTF-8 (line {line}, column {column}); send it \
             encoded as UTF-8."
        ))
    })?;
    Parser {
        reader: Reader::from_str(text),
        text,
        limits,
        scopes: Scopes::default(),
        deadline: limits.time_budget.map(|budget| (started + budget, budget)),
    }
    .run()
}

/// The namespace bindings in scope, by prefix (`""` is the default namespace): each prefix
/// maps to the stack of its bindings, innermost last, so resolving a name is one lookup
/// however many namespaces are declared around it.
#[derive(Default)]
struct Scopes {
    bindings: HashMap<String, Vec<String>>,
    /// For each open element, the prefixes it declared (popped at its end).
    declared: Vec<Vec<String>>,
    /// Declarations seen in the document so far.
    total: usize,
}

impl Scopes {
    fn push(&mut self, declarations: Vec<(String, String)>) {
        let mut prefixes = Vec::with_capacity(declarations.len());
        for (prefix, uri) in declarations {
            self.bindings.entry(prefix.clone()).or_default().push(uri);
            prefixes.push(prefix);
        }
        self.declared.push(prefixes);
    }

    fn pop(&mut self) {
        for prefix in self.declared.pop().unwrap_or_default() {
            if let Some(stack) = self.bindings.get_mut(&prefix) {
                stack.pop();
            }
        }
    }

    /// `Ok(namespace)` or `Err(())` for an undeclared prefix. An element without a prefix is
    /// in the default namespace (if any: `xmlns=""` undeclares it).
    fn resolve(&self, prefix: Option<&str>) -> Result<Option<String>, ()> {
        match prefix {
            Some("xml") => Ok(Some(XML_NAMESPACE.to_string())),
            Some(prefix) => match self.bindings.get(prefix).and_then(|s| s.last()) {
                Some(uri) => Ok(Some(uri.clone())),
                None => Err(()),
            },
            None => Ok(self
                .bindings
                .get("")
                .and_then(|s| s.last())
                .filter(|uri| !uri.is_empty())
                .cloned()),
        }
    }
}

struct Parser<'i, 'l> {
    reader: Reader<&'i [u8]>,
    text: &'i str,
    limits: &'l Limits,
    scopes: Scopes,
    /// When the parse must be over, and the budget that gave it.
    deadline: Option<(Instant, Duration)>,
}

/// A name split at its first colon: `(prefix, local)`.
fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    }
}

impl Parser<'_, '_> {
    fn at(&self, position: u64, message: impl std::fmt::Display) -> XmlError {
        let (line, column) = line_column(self.text.as_bytes(), position as usize);
        XmlError(format!("{message} (line {line}, column {column})"))
    }

    fn here(&self, message: impl std::fmt::Display) -> XmlError {
        self.at(self.reader.buffer_position(), message)
    }

    /// An error once the time budget is spent.
    fn check_deadline(&self) -> Result<(), XmlError> {
        match self.deadline {
            Some((deadline, budget)) if Instant::now() >= deadline => Err(XmlError(format!(
                "Reading the XML document took longer than {} s, the most this server \
                 spends on one document (limits.xml_parse_seconds); send a smaller or \
                 simpler one.",
                budget.as_secs_f64()
            ))),
            _ => Ok(()),
        }
    }

    /// Reads the whole document: one event at a time, each handled by its own step.
    fn run(mut self) -> Result<Element, XmlError> {
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            self.check_deadline()?;
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let position = self.reader.error_position();
                    return Err(self.at(position, format!("The XML is malformed: {e}")));
                }
            };
            match event {
                Event::Start(start) => self.start_element(&start, &mut stack, &mut root)?,
                Event::Empty(start) => {
                    let element = self.open_checked(&start, &stack, &root)?;
                    self.scopes.pop();
                    close(&mut stack, &mut root, element);
                }
                Event::End(_) => self.end_element(&mut stack, &mut root)?,
                Event::Text(text) => {
                    let content = text
                        .xml10_content()
                        .map_err(|e| self.here(format!("The XML text is not readable: {e}")))?;
                    self.push_text(&mut stack, &content)?;
                }
                Event::CData(data) => {
                    let content = data
                        .xml10_content()
                        .map_err(|e| self.here(format!("The XML CDATA is not readable: {e}")))?;
                    self.push_text(&mut stack, &content)?;
                }
                Event::GeneralRef(reference) => {
                    let replacement = self.resolve_reference(&reference)?;
                    self.push_text(&mut stack, &replacement)?;
                }
                Event::DocType(_) => {
                    return Err(self.here(
                        "The XML document has a <!DOCTYPE>: DTDs and entity declarations are \
                         not accepted; remove it.",
                    ))
                }
                Event::Decl(decl) => self.check_encoding(&decl)?,
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => return self.finish(&stack, root),
            }
        }
    }

    /// A start tag (not self-closing): opened, and its element left open on `stack`.
    fn start_element(
        &mut self,
        start: &BytesStart<'_>,
        stack: &mut Vec<Element>,
        root: &mut Option<Element>,
    ) -> Result<(), XmlError> {
        let element = self.open_checked(start, stack, root)?;
        stack.push(element);
        Ok(())
    }

    /// Opens an element once the document may still have one here: a second root and
    /// nesting past the depth cap are refused.
    fn open_checked(
        &mut self,
        start: &BytesStart<'_>,
        stack: &[Element],
        root: &Option<Element>,
    ) -> Result<Element, XmlError> {
        if root.is_some() {
            return Err(self.here("The XML document has more than one root element; send one."));
        }
        if stack.len() >= self.limits.max_depth {
            return Err(self.here(format!(
                "The XML document nests elements deeper than {} levels.",
                self.limits.max_depth
            )));
        }
        self.open_element(start)
    }

    /// An end tag: closes the open element (quick-xml checks that end names match their
    /// start).
    fn end_element(
        &mut self,
        stack: &mut Vec<Element>,
        root: &mut Option<Element>,
    ) -> Result<(), XmlError> {
        let element = stack
            .pop()
            .ok_or_else(|| self.here("The XML has an end tag without a start tag."))?;
        self.scopes.pop();
        close(stack, root, element);
        Ok(())
    }

    /// The text of a character reference or of one of the five predefined entities; any
    /// other entity is refused (no DTD declares one).
    fn resolve_reference<'r>(&self, reference: &'r BytesRef<'_>) -> Result<Cow<'r, str>, XmlError> {
        if reference.is_char_ref() {
            return match reference.resolve_char_ref() {
                Ok(Some(c)) => Ok(Cow::Owned(c.to_string())),
                Ok(None) | Err(_) => Err(self.here(format!(
                    "The character reference &{}; is not a valid character.",
                    String::from_utf8_lossy(reference)
                ))),
            };
        }
        let name = String::from_utf8_lossy(reference).into_owned();
        match predefined_entity(&name) {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => Err(self.here(format!(
                "The entity &{name}; is not defined: only &lt; &gt; &amp; &apos; &quot; and \
                 character references may be used."
            ))),
        }
    }

    /// The XML declaration: only UTF-8 (or its ASCII subset) is read.
    fn check_encoding(&self, decl: &BytesDecl<'_>) -> Result<(), XmlError> {
        if let Some(Ok(encoding)) = decl.encoding() {
            let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
            if !matches!(encoding.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                return Err(self.here(format!(
                    "The XML document declares encoding {encoding:?}; only UTF-8 is accepted."
                )));
            }
        }
        Ok(())
    }

    /// The end of the input: the root, once every element is closed.
    fn finish(&self, stack: &[Element], root: Option<Element>) -> Result<Element, XmlError> {
        if let Some(open) = stack.last() {
            return Err(self.here(format!(
                "The XML document ends before <{}> is closed.",
                open.name
            )));
        }
        root.ok_or_else(|| XmlError("The XML document is empty.".into()))
    }

    /// Reads a start tag: declares its namespaces (within the caps), resolves its name and
    /// its attributes' names.
    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<Element, XmlError> {
        let qualified = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut declarations: Vec<(String, String)> = Vec::new();
        let mut plain: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        // quick-xml's own duplicate check compares each attribute with every earlier one;
        // a set keeps it linear.
        for (count, attribute) in start.attributes().with_checks(false).enumerate() {
            if count >= self.limits.max_attributes_per_element {
                return Err(self.here(format!(
                    "The element <{qualified}> has more than {} attributes, the most accepted \
                     on one element.",
                    self.limits.max_attributes_per_element
                )));
            }
            let attribute = attribute.map_err(|e| {
                self.here(format!("An attribute of <{qualified}> is malformed: {e}"))
            })?;
            if !seen.insert(attribute.key.as_ref().to_vec()) {
                return Err(self.here(format!(
                    "The attribute {} appears twice on <{qualified}>.",
                    String::from_utf8_lossy(attribute.key.as_ref())
                )));
            }
            let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| {
                    self.here(format!(
                        "The value of attribute {key:?} on <{qualified}> is not accepted: {e} \
                         (only &lt; &gt; &amp; &apos; &quot; and character references may be \
                         used)"
                    ))
                })?
                .into_owned();
            let declared = if key == "xmlns" {
                Some(String::new())
            } else {
                key.strip_prefix("xmlns:").map(str::to_string)
            };
            match declared {
                Some(prefix) => {
                    declarations.push((prefix, value));
                    if declarations.len() > self.limits.max_namespaces_per_element {
                        return Err(self.here(format!(
                            "The element <{qualified}> declares more than {} namespaces, the \
                             most accepted on one element; declare each namespace once, on \
                             the root element.",
                            self.limits.max_namespaces_per_element
                        )));
                    }
                }
                None => plain.push((key, value)),
            }
        }
        self.check_declarations(&qualified, &declarations)?;
        self.scopes.total += declarations.len();
        self.scopes.push(declarations);

        let (prefix, local) = split_name(&qualified);
        let namespace = self.scopes.resolve(prefix).map_err(|()| {
            let prefix = prefix.unwrap_or_default();
            self.here(format!(
                "The element prefix {prefix:?} of <{qualified}> is not declared; declare it \
                 with xmlns:{prefix}=\"...\"."
            ))
        })?;
        let name = local.to_string();
        let mut attributes = Vec::with_capacity(plain.len());
        for (key, value) in plain {
            let (attr_prefix, attr_local) = split_name(&key);
            // Unprefixed attributes are in no namespace, whatever the default one is.
            let attr_namespace = match attr_prefix {
                None => None,
                Some(p) => self.scopes.resolve(Some(p)).map_err(|()| {
                    self.here(format!(
                        "The attribute prefix {p:?} on <{name}> is not declared; declare it \
                         with xmlns:{p}=\"...\"."
                    ))
                })?,
            };
            attributes.push(Attribute {
                namespace: attr_namespace,
                name: attr_local.to_string(),
                value,
            });
        }
        Ok(Element {
            namespace,
            name,
            attributes,
            children: Vec::new(),
        })
    }

    /// The namespace caps and the rules of Namespaces in XML 1.0 for declarations.
    fn check_declarations(
        &self,
        element: &str,
        declarations: &[(String, String)],
    ) -> Result<(), XmlError> {
        if self.scopes.total + declarations.len() > self.limits.max_namespaces {
            return Err(self.here(format!(
                "The XML document declares more than {} namespaces, the most accepted in one \
                 document; declare each namespace once, on the root element.",
                self.limits.max_namespaces
            )));
        }
        for (prefix, uri) in declarations {
            let problem = match prefix.as_str() {
                "xmlns" => Some("the prefix xmlns cannot be declared".to_string()),
                "xml" if uri != XML_NAMESPACE => Some(format!(
                    "the prefix xml can only be bound to {XML_NAMESPACE}"
                )),
                "" | "xml" => None,
                _ if uri.is_empty() => Some(format!(
                    "xmlns:{prefix}=\"\" is not allowed (a prefix cannot be undeclared in XML \
                     1.0)"
                )),
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(self.here(format!(
                    "A namespace declaration on <{element}> is not accepted: {problem}."
                )));
            }
        }
        Ok(())
    }

    fn push_text(&self, stack: &mut [Element], content: &str) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(previous)) = parent.children.last_mut() {
                    previous.push_str(content);
                } else {
                    parent.children.push(Node::Text(content.to_string()));
                }
                Ok(())
            }
            None if content.trim().is_empty() => Ok(()),
            None => Err(self.here("The XML document has text outside its root element.")),
        }
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// 1-based line and column of a byte offset.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

impl Element {
    /// Whether this element is `{namespace}name`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element `{namespace}name`.
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(namespace, name))
    }

    /// Every child element `{namespace}name`, in order.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(namespace, name))
    }

    /// The value of the unqualified attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{namespace}name`.
    pub fn attr_ns(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.as_deref() == Some(namespace) && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The text directly inside this element (text and CDATA children joined; child
    /// elements skipped).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.children {
            if let Node::Text(t) = node {
                text.push_str(t);
            }
        }
        text
    }

    /// Whether this element has child elements.
    pub fn has_elements(&self) -> bool {
        self.elements().next().is_some()
    }

    /// This element as standalone XML text, its namespaces declared on it (a fragment
    /// without default namespace around it: unqualified elements get no `xmlns=""`).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        write_element(&mut out, self, Some(None));
        out
    }

    /// The children of this element as XML text (elements with their namespaces declared,
    /// text escaped): what complex data given by value contains.
    pub fn inner_xml(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            match node {
                Node::Element(element) => write_element(&mut out, element, Some(None)),
                Node::Text(text) => out.push_str(&escape_text(text)),
            }
        }
        out
    }
}

/// Writes `element`, declaring its namespace as the default one where it differs from the
/// inherited default (`Some(None)`: none in effect; `None`: unknown, so always declared), and a
/// generated prefix for each qualified attribute.
fn write_element(out: &mut String, element: &Element, inherited_default: Option<Option<&str>>) {
    out.push('<');
    out.push_str(&element.name);
    let own = element.namespace.as_deref();
    if inherited_default != Some(own) {
        let _ = write!(out, " xmlns=\"{}\"", escape_attr(own.unwrap_or("")));
    }
    let mut prefixes: Vec<&str> = Vec::new();
    for attribute in &element.attributes {
        match attribute.namespace.as_deref() {
            None => {
                let _ = write!(
                    out,
                    " {}=\"{}\"",
                    attribute.name,
                    escape_attr(&attribute.value)
                );
            }
            Some(ns) => {
                let index = match prefixes.iter().position(|p| *p == ns) {
                    Some(i) => i,
                    None => {
                        prefixes.push(ns);
                        let i = prefixes.len() - 1;
                        if ns == "http://www.w3.org/XML/1998/namespace" {
                            // `xml:` is predeclared and may not be redeclared elsewhere.
                            i
                        } else {
                            let _ = write!(out, " xmlns:a{i}=\"{}\"", escape_attr(ns));
                            i
                        }
                    }
                };
                let prefix = if ns == "http://www.w3.org/XML/1998/namespace" {
                    "xml".to_string()
                } else {
                    format!("a{index}")
                };
                let _ = write!(
                    out,
                    " {prefix}:{}=\"{}\"",
                    attribute.name,
                    escape_attr(&attribute.value)
                );
            }
        }
    }
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for node in &element.children {
        match node {
            Node::Element(child) => write_element(out, child, Some(own)),
            Node::Text(text) => out.push_str(&escape_text(text)),
        }
    }
    let _ = write!(out, "</{}>", element.name);
}

/// Escapes text content (`&`, `<`, `>`).
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Escapes an attribute value (`&`, `<`, `>`, `"`, `'` and the whitespace characters that
/// attribute normalisation would otherwise turn into spaces).
pub fn escape_attr(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, attribute: bool) -> Cow<'_, str> {
    let needs = |c: char| {
        matches!(c, '&' | '<' | '>' | '\r')
            || (attribute && matches!(c, '"' | '\'' | '\n' | '\t'))
            || is_forbidden(c)
    };
    if !text.contains(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            // Text may hold `\r`, which a parser would turn into `\n`: keep it.
            '\r' => out.push_str("&#13;"),
            c if is_forbidden(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters XML 1.0 cannot carry at all, not even as character references: the C0
/// controls but tab, line feed and carriage return, and U+FFFE and U+FFFF. Job messages and
/// Seed error texts may hold them (a stray byte of a container's output); they become
/// U+FFFD, so no text can make a document ill-formed.
fn is_forbidden(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(xml: &str) -> Element {
        parse(xml.as_bytes(), &Limits::default()).unwrap()
    }

    fn err(xml: &str) -> String {
        parse(xml.as_bytes(), &Limits::default()).unwrap_err().0
    }

    #[test]
    fn namespaces_resolve_and_unqualified_attributes_stay_unqualified() {
        let root = ok(r#"<?xml version="1.0" encoding="UTF-8"?>
            <wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns="urn:default"
                xmlns:xlink="http://www.w3.org/1999/xlink" service="WPS">
              <wps:Input id="a"><wps:Reference xlink:href="http://x/?a=1&amp;b=2"/></wps:Input>
              <plain>t</plain>
            </wps:Execute>"#);
        assert!(root.is("http://www.opengis.net/wps/2.0", "Execute"));
        assert_eq!(root.attr("service"), Some("WPS"));
        let input = root
            .child("http://www.opengis.net/wps/2.0", "Input")
            .unwrap();
        assert_eq!(input.attr("id"), Some("a"));
        let reference = input
            .child("http://www.opengis.net/wps/2.0", "Reference")
            .unwrap();
        assert_eq!(reference.attr_ns(XLINK, "href"), Some("http://x/?a=1&b=2"));
        assert_eq!(reference.attr("href"), None);
        assert_eq!(root.child("urn:default", "plain").unwrap().text(), "t");
    }

    #[test]
    fn text_cdata_and_references_are_unescaped() {
        let root = ok("<a>x &lt;&#65;&#x42;<![CDATA[<&>]]>&quot;</a>");
        assert_eq!(root.text(), "x <AB<&>\"");
    }

    #[test]
    fn doctype_and_unknown_entities_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#;
        assert!(err(bomb).contains("DOCTYPE"), "{}", err(bomb));
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert!(err(xxe).contains("DOCTYPE"));
        assert!(err("<a>&x;</a>").contains("&x;"));
        assert!(err("<a b='&x;'/>").contains("not accepted"));
    }

    #[test]
    fn malformed_documents_say_where() {
        let message = err("<a>\n<b></a>");
        assert!(message.contains("line 2"), "{message}");
        assert!(err("").contains("empty"));
        assert!(err("<a/><b/>").contains("more than one root"));
        assert!(err("<p:a/>").contains("not declared"));
        assert!(err("<a>").contains("ends before"));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bytes: 10,
            max_depth: 2,
            ..Limits::default()
        };
        assert!(parse(b"<a>0123456789</a>", &limits)
            .unwrap_err()
            .0
            .contains("bytes"));
        let limits = Limits {
            max_bytes: 1000,
            max_depth: 2,
            ..Limits::default()
        };
        assert!(parse(b"<a><b/></a>", &limits).is_ok());
        assert!(parse(b"<a><b><c/></b></a>", &limits)
            .unwrap_err()
            .0
            .contains("deeper"));
    }

    /// `levels` nested elements, each declaring `per_element` namespaces.
    fn namespace_bomb(levels: usize, per_element: usize) -> String {
        let declarations: String = (0..per_element)
            .map(|i| format!(" xmlns:p{i}=\"urn:bomb:{i}\""))
            .collect();
        let mut xml = String::from("<r:root xmlns:r=\"urn:r\">");
        for _ in 0..levels {
            xml.push_str(&format!("<r:e{declarations} r:a=\"1\">"));
        }
        for _ in 0..levels {
            xml.push_str("</r:e>");
        }
        xml.push_str("</r:root>");
        xml
    }

    #[test]
    fn namespace_declarations_are_capped_per_element_and_per_document() {
        let message = err(&namespace_bomb(1, MAX_NAMESPACES_PER_ELEMENT + 1));
        assert!(
            message.contains(&format!(
                "more than {MAX_NAMESPACES_PER_ELEMENT} namespaces"
            )),
            "{message}"
        );
        assert!(parse(
            namespace_bomb(1, MAX_NAMESPACES_PER_ELEMENT).as_bytes(),
            &Limits::default()
        )
        .is_ok());
        let levels = MAX_NAMESPACES / MAX_NAMESPACES_PER_ELEMENT + 1;
        let message = err(&namespace_bomb(levels, MAX_NAMESPACES_PER_ELEMENT));
        assert!(
            message.contains(&format!("more than {MAX_NAMESPACES} namespaces")),
            "{message}"
        );
    }

    #[test]
    fn scopes_nest_and_unwind() {
        let root = ok(
            r#"<a xmlns="urn:1" xmlns:p="urn:p"><b xmlns="urn:2" xmlns:p="urn:q"><p:c/></b><p:d xml:lang="en"/><e xmlns=""/></a>"#,
        );
        let b = root.child("urn:2", "b").unwrap();
        assert!(b.child("urn:q", "c").is_some());
        let d = root.child("urn:p", "d").unwrap();
        assert_eq!(d.attr_ns(XML_NAMESPACE, "lang"), Some("en"));
        assert!(root
            .elements()
            .any(|e| e.namespace.is_none() && e.name == "e"));
        assert!(err("<a><b xmlns:p=\"urn:p\"/><p:c/></a>").contains("not declared"));
        assert!(err("<a xmlns:p=\"\"/>").contains("cannot be undeclared"));
        assert!(err("<a xmlns:xmlns=\"urn:x\"/>").contains("xmlns cannot be declared"));
        assert!(err("<a b=\"1\" b=\"2\"/>").contains("appears twice"));
    }

    #[test]
    fn attributes_are_capped_and_the_time_budget_holds() {
        let attributes: String = (0..=MAX_ATTRIBUTES_PER_ELEMENT)
            .map(|i| format!(" a{i}=\"\""))
            .collect();
        let message = err(&format!("<a{attributes}/>"));
        assert!(message.contains("more than 256 attributes"), "{message}");
        let no_time = Limits {
            time_budget: Some(Duration::ZERO),
            ..Limits::default()
        };
        std::thread::sleep(Duration::from_millis(2));
        let message = parse(b"<a/>", &no_time).unwrap_err().0;
        assert!(message.contains("limits.xml_parse_seconds"), "{message}");
    }

    #[test]
    fn inner_xml_round_trips_with_namespaces() {
        let root = ok(
            r#"<w:Data xmlns:w="urn:w"><testElement a="1 &amp; 2">hello_complex</testElement><x:y xmlns:x="urn:x" xmlns:l="urn:l" l:k="v"/></w:Data>"#,
        );
        let inner = root.inner_xml();
        assert_eq!(
            inner,
            r#"<testElement a="1 &amp; 2">hello_complex</testElement><y xmlns="urn:x" xmlns:a0="urn:l" a0:k="v"/>"#
        );
        let reparsed = ok(&format!("<r>{inner}</r>"));
        assert_eq!(reparsed.children, root.children);
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_text("a<b&c>"), "a&lt;b&amp;c&gt;");
        assert_eq!(escape_attr("\"'\n"), "&quot;&apos;&#10;");
        assert!(matches!(escape_text("plain"), Cow::Borrowed(_)));
        // What XML 1.0 cannot carry becomes U+FFFD; tab, line feed and CR stay.
        assert_eq!(
            escape_text("a\u{1}b\u{1b}[0m\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}[0m\u{FFFD}"
        );
        assert_eq!(escape_text("a\tb\nc\rd"), "a\tb\nc&#13;d");
        assert_eq!(escape_attr("\u{0}\t"), "\u{FFFD}&#9;");
    }

    /// Small element trees with namespaces, attributes and text.
    fn any_element() -> impl proptest::strategy::Strategy<Value = Element> {
        use proptest::prelude::*;
        let namespace = proptest::option::of(prop_oneof![
            Just("urn:a".to_string()),
            Just("http://www.opengis.net/wps/2.0".to_string()),
            Just(XML_NAMESPACE.to_string()),
        ]);
        let attribute =
            (namespace.clone(), "[a-z]{1,5}", "[ -~]{0,8}").prop_map(|(namespace, name, value)| {
                Attribute {
                    namespace: namespace.filter(|n| n != "http://www.opengis.net/wps/2.0"),
                    name,
                    value,
                }
            });
        let element = move |children: BoxedStrategy<Vec<Node>>| {
            (
                namespace
                    .clone()
                    .prop_map(|n| n.filter(|n| n != XML_NAMESPACE)),
                "[a-z]{1,6}",
                proptest::collection::vec(attribute.clone(), 0..3),
                children,
            )
                .prop_map(|(namespace, name, mut attributes, children)| {
                    let mut seen = std::collections::HashSet::new();
                    attributes.retain(|a| seen.insert((a.namespace.clone(), a.name.clone())));
                    Element {
                        namespace,
                        name,
                        attributes,
                        children,
                    }
                })
        };
        let leaf = element(Just(Vec::new()).boxed());
        leaf.prop_recursive(3, 16, 3, move |inner| {
            let child = prop_oneof![
                inner.prop_map(Node::Element),
                "[a-z<>&]{1,6}".prop_map(Node::Text),
            ];
            let children = proptest::collection::vec(child, 0..3)
                .prop_map(|mut nodes| {
                    // Adjacent text nodes are one text node once parsed.
                    nodes.dedup_by(|b, a| matches!((a, b), (Node::Text(_), Node::Text(_))));
                    nodes
                })
                .boxed();
            element(children)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes, &Limits::default());
        }

        #[test]
        fn arbitrary_markup_never_panics(text in "[<>/=\"' a-z:&#;!\\[\\]?-]{0,128}") {
            let _ = parse(text.as_bytes(), &Limits::default());
        }

        #[test]
        fn written_elements_parse_back_the_same(element in any_element()) {
            let xml = element.to_xml();
            let parsed = parse(xml.as_bytes(), &Limits::default());
            proptest::prop_assert_eq!(parsed, Ok(element), "{}", xml);
        }
    }
}
