//! CWL parameter references (CWL v1.2, "Parameter References"): `$(inputs.x.path)`,
//! `$(self[0].contents)`, `$(runtime.outdir)`, with `.symbol`, `['key']`, `["key"]` and
//! `[0]` segments and `.length` of an array. A string that is one reference evaluates to the
//! referenced value itself; references inside a longer string are interpolated (strings as
//! they are, anything else as JSON).
//!
//! JavaScript (`${...}`, or `$(...)` holding more than a reference) is evaluated by the
//! embedded engine of [`super::javascript`] when an `InlineJavascriptRequirement` is in
//! effect (the context's `library`); without one it is an [`ExpressionError::JavaScript`]
//! naming the expression, as the specification asks. References are resolved here, without
//! the engine, whichever the case.

use serde_json::Value;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpressionError {
    /// The expression is JavaScript and no `InlineJavascriptRequirement` is in effect.
    #[error("the expression {0} is JavaScript, which CWL evaluates only under an InlineJavascriptRequirement: declare one (requirements: [{{class: InlineJavascriptRequirement}}]) or write a parameter reference such as $(inputs.name.path)")]
    JavaScript(String),
    /// The JavaScript engine evaluated the expression and it failed.
    #[error("the JavaScript expression {expression} failed: {reason}")]
    Script { expression: String, reason: String },
    /// A reference names something that is not there (a field of null, an index past the
    /// end, `.length` of a non-array).
    #[error("the parameter reference {expression} cannot be evaluated: {reason}")]
    Reference { expression: String, reason: String },
}

/// What references can name: `inputs`, `self` and `runtime`; and the JavaScript library.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub inputs: &'a Value,
    pub self_: &'a Value,
    pub runtime: &'a Value,
    /// The `expressionLib` of the `InlineJavascriptRequirement` in effect (see
    /// [`super::javascript::library_in`]); `None` when there is none, and JavaScript is
    /// then an error.
    pub library: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// A context with no `self` (null), for a process's own expressions.
    pub fn new(inputs: &'a Value, runtime: &'a Value, library: Option<&'a str>) -> Self {
        Context {
            inputs,
            self_: &Value::Null,
            runtime,
            library,
        }
    }
}

/// Whether `text` holds an expression (`$(` or `${` not escaped).
pub fn has_expression(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && (bytes[i + 1] == b'(' || bytes[i + 1] == b'{') {
            return true;
        }
        i += 1;
    }
    false
}

/// The first JavaScript expression in `text`, if any.
pub fn scan_for_javascript(text: &str) -> Option<String> {
    match scan(text) {
        Err(ExpressionError::JavaScript(expression)) => Some(expression),
        Ok(parts) => parts.into_iter().find_map(|part| match part {
            Part::Script { whole, .. } => Some(whole),
            _ => None,
        }),
        _ => None,
    }
}

/// Evaluates a JSON value that may be an expression: strings are evaluated
/// ([`evaluate_string`]), anything else is returned as it is.
pub fn evaluate(value: &Value, context: &Context) -> Result<Value, ExpressionError> {
    match value {
        Value::String(text) => evaluate_string(text, context),
        other => Ok(other.clone()),
    }
}

/// Evaluates a string with parameter references: a string that is exactly one reference
/// (surrounding whitespace aside, as cwltool allows) is the referenced value; otherwise
/// each reference is replaced by its value as text.
pub fn evaluate_string(text: &str, context: &Context) -> Result<Value, ExpressionError> {
    interpolate(text, context, true)
}

/// [`evaluate`] where whitespace around one expression is kept as text (the `entry` of an
/// `InitialWorkDirRequirement` Dirent: a file's content, to the last newline).
pub fn evaluate_keeping_whitespace(
    value: &Value,
    context: &Context,
) -> Result<Value, ExpressionError> {
    match value {
        Value::String(text) => interpolate(text, context, false),
        other => Ok(other.clone()),
    }
}

fn interpolate(text: &str, context: &Context, strip: bool) -> Result<Value, ExpressionError> {
    let parts = scan(text)?;
    let blank = |part: &Part| strip && matches!(part, Part::Text(text) if text.trim().is_empty());
    let start = parts.iter().take_while(|p| blank(p)).count();
    let end = parts.len() - parts.iter().rev().take_while(|p| blank(p)).count();
    if let [part @ (Part::Reference(_) | Part::Script { .. })] = &parts[start..end.max(start)] {
        return value_of(part, context);
    }
    let mut out = String::new();
    for part in &parts {
        match part {
            Part::Text(text) => out.push_str(text),
            other => out.push_str(&to_text(&value_of(other, context)?)),
        }
    }
    Ok(Value::String(out))
}

fn value_of(part: &Part, context: &Context) -> Result<Value, ExpressionError> {
    use super::javascript::{evaluate, Form};
    match (part, context.library) {
        (Part::Text(text), _) => Ok(Value::String(text.clone())),
        // What the reference grammar cannot resolve (`.length` of a string, say), the
        // engine may, as cwltool then hands it to JavaScript too.
        (Part::Reference(inner), Some(library)) => resolve(inner, context).or_else(|err| {
            let whole = format!("$({inner})");
            evaluate(inner, Form::Expression, &whole, library, context).map_err(|_| err)
        }),
        (Part::Reference(inner), None) => resolve(inner, context),
        (Part::Script { whole, .. }, None) => Err(ExpressionError::JavaScript(whole.clone())),
        (Part::Script { whole, code, body }, Some(library)) => {
            let form = if *body { Form::Body } else { Form::Expression };
            evaluate(code, form, whole, library, context)
        }
    }
}

/// A value interpolated into a string: strings as they are, anything else as JSON the way
/// cwltool writes it (Python's `json.dumps`: `", "` between items, `": "` after keys), which
/// tests compare byte for byte (an InitialWorkDir entry's checksum).
pub fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => to_spaced_json(other),
    }
}

fn to_spaced_json(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(to_spaced_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(key, item)| {
                    format!("{}: {}", Value::String(key.clone()), to_spaced_json(item))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        scalar => to_json(scalar),
    }
}

/// Compact JSON of a value, with whole numbers too large for 64 bits (read as doubles)
/// written out in full (`4200000000000000000000000000000000000000000`, as the document
/// wrote them and as Python's integers print), not as `4.2e42`.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() >= 1e16 && f.is_finite() => {
                out.push_str(&format!("{f}"))
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    /// The inside of `$(...)` when it is a parameter reference.
    Reference(String),
    /// JavaScript: the inside of `${...}` (`body`) or of a `$(...)` that is more than a
    /// reference; `whole` as written.
    Script {
        whole: String,
        code: String,
        body: bool,
    },
}

/// Splits a string into text and references. `\$(` and `\${` stand for the literal
/// characters; `\\` for one backslash.
fn scan(text: &str) -> Result<Vec<Part>, ExpressionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if next == '\\' {
                literal.push('\\');
                i += 2;
                continue;
            }
            if next == '$' && matches!(chars.get(i + 2), Some('(') | Some('{')) {
                literal.push('$');
                i += 2;
                continue;
            }
        }
        if c == '$' && matches!(chars.get(i + 1), Some('(') | Some('{')) {
            let close = if chars[i + 1] == '(' { ')' } else { '}' };
            let end = matching_close(&chars, i + 1, close).ok_or_else(|| {
                ExpressionError::JavaScript(chars[i..].iter().collect::<String>())
            })?;
            let whole: String = chars[i..=end].iter().collect();
            let inner: String = chars[i + 2..end].iter().collect();
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            if close == ')' && is_parameter_reference(&inner) {
                parts.push(Part::Reference(inner));
            } else {
                parts.push(Part::Script {
                    whole,
                    code: inner,
                    body: close == '}',
                });
            }
            i = end + 1;
            continue;
        }
        literal.push(c);
        i += 1;
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

/// Index of the bracket closing the one at `open`, skipping quoted strings.
fn matching_close(chars: &[char], open: usize, close: char) -> Option<usize> {
    let opening = chars[open];
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut i = open;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == '\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == opening {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// One step of a reference after its symbol.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(usize),
}

fn is_parameter_reference(inner: &str) -> bool {
    parse_reference(inner).is_some() || literal(inner).is_some()
}

/// A JSON literal written where a reference may be (`$(true)`, `$(3)`, `$("text")`):
/// JavaScript would give the same value, so no engine is needed for it.
fn literal(inner: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(inner.trim()) {
        Ok(v @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => Some(v),
        _ => None,
    }
}

/// `symbol segment*` of the CWL grammar; `None` when it is anything else (JavaScript).
fn parse_reference(inner: &str) -> Option<(String, Vec<Segment>)> {
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    let symbol = take_symbol(&chars, &mut i)?;
    let mut segments = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                segments.push(Segment::Field(take_symbol(&chars, &mut i)?));
            }
            '[' => {
                i += 1;
                match chars.get(i)? {
                    q @ ('\'' | '"') => {
                        let q = *q;
                        i += 1;
                        let mut key = String::new();
                        loop {
                            let c = *chars.get(i)?;
                            if c == '\\' {
                                key.push(*chars.get(i + 1)?);
                                i += 2;
                                continue;
                            }
                            i += 1;
                            if c == q {
                                break;
                            }
                            key.push(c);
                        }
                        segments.push(Segment::Field(key));
                    }
                    _ => {
                        let start = i;
                        while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                            i += 1;
                        }
                        if i == start {
                            return None;
                        }
                        let digits: String = chars[start..i].iter().collect();
                        segments.push(Segment::Index(digits.parse().ok()?));
                    }
                }
                if chars.get(i) != Some(&']') {
                    return None;
                }
                i += 1;
            }
            _ => return None,
        }
    }
    Some((symbol, segments))
}

fn take_symbol(chars: &[char], i: &mut usize) -> Option<String> {
    let start = *i;
    while chars
        .get(*i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        *i += 1;
    }
    (*i > start).then(|| chars[start..*i].iter().collect())
}

fn resolve(expression: &str, context: &Context) -> Result<Value, ExpressionError> {
    let fail = |reason: String| ExpressionError::Reference {
        expression: format!("$({expression})"),
        reason,
    };
    if let Some(value) = literal(expression) {
        return Ok(value);
    }
    let (symbol, segments) = parse_reference(expression)
        .ok_or_else(|| ExpressionError::JavaScript(expression.into()))?;
    // An input the process does not declare is an error, not null: the process would
    // otherwise run reading something nobody gives it.
    if let (Some("inputs"), Some(Segment::Field(name)), Value::Object(inputs)) =
        (Some(symbol.as_str()), segments.first(), context.inputs)
    {
        if !inputs.contains_key(name) {
            return Err(fail(format!("there is no input {name}")));
        }
    }
    let mut current = match symbol.as_str() {
        "inputs" => context.inputs.clone(),
        "self" => context.self_.clone(),
        "runtime" => context.runtime.clone(),
        "null" if segments.is_empty() => Value::Null,
        other => return Err(fail(format!("{other} is not inputs, self or runtime"))),
    };
    for segment in segments {
        current = match (segment, current) {
            (Segment::Field(name), Value::Object(mut map)) => match map.remove(&name) {
                Some(value) => value,
                None => Value::Null,
            },
            (Segment::Field(name), Value::Array(items)) if name == "length" => {
                Value::from(items.len())
            }
            (Segment::Index(index), Value::Array(mut items)) => {
                if index >= items.len() {
                    return Err(fail(format!(
                        "index {index} is past the end of a list of {}",
                        items.len()
                    )));
                }
                items.swap_remove(index)
            }
            (Segment::Field(name), Value::String(s)) if name == "length" => {
                return Err(fail(format!(
                    "length is asked of the string {s:?}, which is not a list"
                )))
            }
            (segment, other) => {
                let what = match &segment {
                    Segment::Field(name) => format!("field {name}"),
                    Segment::Index(index) => format!("index {index}"),
                };
                return Err(fail(format!("{what} is asked of {other}, which has none")));
            }
        };
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str) -> Result<Value, ExpressionError> {
        eval_with(text, None)
    }

    fn eval_with(text: &str, library: Option<&str>) -> Result<Value, ExpressionError> {
        let inputs = json!({
            "file": {"class": "File", "path": "/in/a b.txt", "basename": "a b.txt"},
            "list": [1, 2, 3],
            "rec": {"length": 7, "x-y": "dash"},
            "nothing": null,
            "text": "hello"
        });
        let runtime = json!({"outdir": "/var/spool/cwl", "cores": 2});
        let self_ = json!([{"contents": "42\n"}]);
        evaluate_string(
            text,
            &Context {
                inputs: &inputs,
                self_: &self_,
                runtime: &runtime,
                library,
            },
        )
    }

    #[test]
    fn one_reference_is_the_value_itself() {
        assert_eq!(eval("$(inputs.list)").unwrap(), json!([1, 2, 3]));
        assert_eq!(eval("$(inputs.file.path)").unwrap(), json!("/in/a b.txt"));
        assert_eq!(eval("$(runtime.cores)").unwrap(), json!(2));
        assert_eq!(eval("$(self[0].contents)").unwrap(), json!("42\n"));
        assert_eq!(
            eval("$(inputs['file'][\"basename\"])").unwrap(),
            json!("a b.txt")
        );
        assert_eq!(eval("$(inputs.rec['x-y'])").unwrap(), json!("dash"));
    }

    #[test]
    fn references_in_text_are_interpolated() {
        assert_eq!(
            eval("out-$(inputs.text).txt").unwrap(),
            json!("out-hello.txt")
        );
        assert_eq!(eval("n=$(runtime.cores)").unwrap(), json!("n=2"));
        assert_eq!(eval("l=$(inputs.list)").unwrap(), json!("l=[1, 2, 3]"));
        assert_eq!(eval("$(inputs.nothing)!").unwrap(), json!("null!"));
        assert_eq!(eval("plain").unwrap(), json!("plain"));
        assert_eq!(eval("").unwrap(), json!(""));
    }

    #[test]
    fn big_whole_numbers_are_written_out() {
        let big = json!({"n": 4.2e42, "small": 4.2, "int": 7});
        assert_eq!(
            to_json(&big),
            r#"{"int":7,"n":4200000000000000000000000000000000000000000,"small":4.2}"#
        );
    }

    #[test]
    fn escapes_are_literal() {
        assert_eq!(eval("\\$(inputs.text)").unwrap(), json!("$(inputs.text)"));
        assert_eq!(eval("a\\\\b").unwrap(), json!("a\\b"));
        assert!(!has_expression("\\$(x)"));
        assert!(has_expression("x $(inputs.a)"));
    }

    #[test]
    fn length_is_the_size_of_a_list_or_a_field_of_a_record() {
        assert_eq!(eval("$(inputs.list.length)").unwrap(), json!(3));
        assert_eq!(eval("$(inputs.rec.length)").unwrap(), json!(7));
        assert!(matches!(
            eval("$(inputs.text.length)"),
            Err(ExpressionError::Reference { .. })
        ));
    }

    #[test]
    fn a_field_of_null_is_an_error() {
        let err = eval("$(inputs.nothing.x)").unwrap_err();
        assert!(err.to_string().contains("$(inputs.nothing.x)"), "{err}");
        assert!(eval("$(inputs.list[5])").is_err());
        // A missing field of a record is null (an undeclared input is an error: below).
        assert_eq!(eval("$(inputs.rec.missing)").unwrap(), Value::Null);
    }

    #[test]
    fn an_undeclared_input_is_an_error() {
        let err = eval("$(inputs.nope)").unwrap_err();
        assert!(err.to_string().contains("there is no input nope"), "{err}");
    }

    #[test]
    fn literals_need_no_javascript() {
        assert_eq!(eval("$(true)").unwrap(), json!(true));
        assert_eq!(eval("$(\"time passed\")").unwrap(), json!("time passed"));
        assert_eq!(eval("n=$(3)").unwrap(), json!("n=3"));
        assert_eq!(scan_for_javascript("$(true)"), None);
        assert!(scan_for_javascript("$(true && false)").is_some());
    }

    #[test]
    fn javascript_runs_under_the_requirement() {
        let lib = Some("function shout(s) { return s.toUpperCase(); }");
        assert_eq!(eval_with("${ return 1; }", lib).unwrap(), json!(1));
        assert_eq!(
            eval_with("x $(inputs.list.length + 1) y", lib).unwrap(),
            json!("x 4 y")
        );
        assert_eq!(
            eval_with("$(shout(inputs.text))-$(inputs.file.basename)", lib).unwrap(),
            json!("HELLO-a b.txt")
        );
        // What the reference grammar refuses, the engine answers.
        assert_eq!(eval_with("$(inputs.text.length)", lib).unwrap(), json!(5));
        let err = eval_with("$(inputs.text.nope.deeper)", lib).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn javascript_is_refused_naming_the_expression() {
        let err = eval("${ return 1; }").unwrap_err();
        assert_eq!(err, ExpressionError::JavaScript("${ return 1; }".into()));
        let err = eval("x $(inputs.list.length + 1) y").unwrap_err();
        assert_eq!(
            err,
            ExpressionError::JavaScript("$(inputs.list.length + 1)".into())
        );
        assert!(err.to_string().contains("$(inputs.list.length + 1)"));
    }
}
