//! Building a CommandLineTool's command line (CWL v1.2, "Input binding" and "Building the
//! command line"): every `arguments` entry and every input with an `inputBinding` (and,
//! inside arrays and records, their items and fields with one) becomes a binding with a
//! sort key (`position`, then the argument's index or the input's name); the bindings are
//! sorted and each turns into words: `prefix` and value (or `prefix` + value without
//! `separate`), `true` as its prefix alone, `false` and `null` as nothing, an array joined
//! by `itemSeparator` or as its prefix followed by its items' own bindings, Files and
//! Directories as their `path`. `valueFrom` replaces the value, evaluated with `self` the
//! value. `baseCommand` comes first.

use super::document::Tool;
use super::expression::{evaluate, Context};
use super::types::{class_of, matches, record_fields};
use super::CwlError;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// One word of the command line; `quote` is false for an argument bound with
/// `shellQuote: false` (used when ShellCommandRequirement is in effect).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub quote: bool,
}

/// A part of the sort key: CWL sorts numbers before names, as cwltool does.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i64),
    Name(String),
}

fn compare_keys(a: &[Key], b: &[Key]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let order = match (x, y) {
            (Key::Int(x), Key::Int(y)) => x.cmp(y),
            (Key::Name(x), Key::Name(y)) => x.cmp(y),
            (Key::Int(_), Key::Name(_)) => Ordering::Less,
            (Key::Name(_), Key::Int(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[derive(Debug, Clone)]
struct Binding {
    key: Vec<Key>,
    datum: Value,
    spec: Map<String, Value>,
    /// Bound from an input (not an `arguments` entry): a null input adds nothing, its
    /// valueFrom is not evaluated.
    from_input: bool,
}

/// The command line of `tool` for the (complete, staged) `inputs`.
pub fn build_command_line(
    tool: &Tool,
    inputs: &Value,
    runtime: &Value,
) -> Result<Vec<Word>, CwlError> {
    let library = tool.javascript_library();
    let base = Context::new(inputs, runtime, library.as_deref());
    let base = &base;
    let mut bindings = Vec::new();
    for (index, argument) in tool.arguments.iter().enumerate() {
        let spec = match argument {
            Value::Object(map) => map.clone(),
            // A bare string is a binding whose valueFrom is that string.
            other => {
                let mut map = Map::new();
                map.insert("valueFrom".into(), other.clone());
                map
            }
        };
        let position = position_of(&spec, &Value::Null, base)?;
        bindings.push(Binding {
            key: vec![Key::Int(position), Key::Int(index as i64)],
            datum: Value::Null,
            spec,
            from_input: false,
        });
    }
    for input in &tool.inputs {
        let datum = inputs.get(&input.id).cloned().unwrap_or(Value::Null);
        let mut schema = Map::new();
        schema.insert("type".into(), input.ty.clone());
        if let Some(binding) = &input.binding {
            schema.insert("inputBinding".into(), binding.clone());
        }
        bindings.extend(bind_input(
            &schema,
            &datum,
            &[],
            &[Key::Name(input.id.clone())],
            base,
        )?);
    }
    bindings.sort_by(|a, b| compare_keys(&a.key, &b.key));

    let mut words: Vec<Word> = tool
        .base_command
        .iter()
        .map(|c| Word {
            text: c.clone(),
            quote: true,
        })
        .collect();
    for binding in &bindings {
        let quote = binding
            .spec
            .get("shellQuote")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        for text in generate_words(binding, base)? {
            words.push(Word { text, quote });
        }
    }
    Ok(words)
}

fn position_of(spec: &Map<String, Value>, datum: &Value, base: &Context) -> Result<i64, CwlError> {
    match spec.get("position") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => Ok(n.as_i64().unwrap_or(0)),
        Some(expression) => {
            let context = Context {
                self_: datum,
                ..*base
            };
            match evaluate(expression, &context)? {
                Value::Number(n) => Ok(n.as_i64().unwrap_or(0)),
                Value::Null => Ok(0),
                other => Err(CwlError::Invalid(format!(
                    "the position {expression} evaluates to {other}, not an integer"
                ))),
            }
        }
    }
}

/// cwltool's `bind_input`, on normalized types: the bindings of one value of type
/// `schema["type"]` (with `schema["inputBinding"]`, if any).
fn bind_input(
    schema: &Map<String, Value>,
    datum: &Value,
    lead: &[Key],
    tail: &[Key],
    base: &Context,
) -> Result<Vec<Binding>, CwlError> {
    let mut bindings = Vec::new();
    let mut own: Option<Binding> = None;
    let mut value_from = false;
    if let Some(Value::Object(spec)) = schema.get("inputBinding") {
        let mut key = lead.to_vec();
        key.push(Key::Int(position_of(spec, datum, base)?));
        key.extend(tail.iter().cloned());
        value_from = spec.contains_key("valueFrom");
        own = Some(Binding {
            key,
            datum: datum.clone(),
            spec: spec.clone(),
            from_input: true,
        });
    }
    let ty = schema.get("type").cloned().unwrap_or(Value::Null);
    match &ty {
        Value::Array(union) => {
            let chosen = union.iter().find(|t| matches(t, datum));
            match chosen {
                Some(t) => {
                    let mut one = schema.clone();
                    one.insert("type".into(), t.clone());
                    // The union's own binding is handled by the chosen type.
                    return bind_input(&one, datum, lead, tail, base);
                }
                None if datum.is_null() => {}
                None => {
                    return Err(CwlError::Invalid(format!(
                        "the value {datum} is of none of the types {}",
                        super::types::describe(&ty)
                    )))
                }
            }
        }
        Value::Object(type_map) => match type_map.get("type").and_then(Value::as_str) {
            Some("array") => {
                let mut item_spec = type_map.get("inputBinding").cloned();
                // An array bound at the parameter without itemSeparator gets an empty
                // binding on its type, so that its items are each bound.
                if own.is_some()
                    && item_spec.is_none()
                    && !own
                        .as_ref()
                        .is_some_and(|b| b.spec.contains_key("itemSeparator"))
                {
                    item_spec = Some(Value::Object(Map::new()));
                }
                if let (Value::Array(items), Some(item_spec)) = (datum, item_spec) {
                    // Bind the array type itself: its binding goes to each item.
                    let array_key = {
                        let spec = item_spec.as_object().cloned().unwrap_or_default();
                        let mut key = lead.to_vec();
                        key.push(Key::Int(position_of(&spec, datum, base)?));
                        key.extend(tail.iter().cloned());
                        key
                    };
                    let items_type = type_map.get("items").cloned().unwrap_or(Value::Null);
                    let mut inner = Vec::new();
                    for (n, item) in items.iter().enumerate() {
                        let mut item_schema = Map::new();
                        item_schema.insert("type".into(), items_type.clone());
                        item_schema.insert("inputBinding".into(), item_spec.clone());
                        inner.extend(bind_input(
                            &item_schema,
                            item,
                            &[Key::Int(n as i64)],
                            tail,
                            base,
                        )?);
                    }
                    for b in &mut inner {
                        let mut key = array_key.clone();
                        key.append(&mut b.key);
                        b.key = key;
                    }
                    if !value_from {
                        bindings.extend(inner);
                    }
                }
            }
            Some("record") => {
                if let Value::Object(fields) = datum {
                    for field in record_fields(&ty) {
                        let name = field
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                        if let Some(value) = fields.get(&name).filter(|v| !v.is_null()) {
                            let found = bind_input(&field, value, lead, &[Key::Name(name)], base)?;
                            if !value_from {
                                bindings.extend(found);
                            }
                        }
                    }
                }
            }
            _ => {}
        },
        Value::String(name) if name == "Any" => {
            // An Any value of an array or a record: bind it as what it is.
            if let Value::Array(_) = datum {
                let mut one = schema.clone();
                one.insert(
                    "type".into(),
                    serde_json::json!({"type": "array", "items": "Any"}),
                );
                return bind_input(&one, datum, lead, tail, base);
            }
        }
        _ => {}
    }
    if let Some(own) = own {
        for b in &mut bindings {
            let mut key = own.key.clone();
            key.append(&mut b.key);
            b.key = key;
        }
        bindings.push(own);
    }
    Ok(bindings)
}

/// cwltool's `generate_arg`: the words of one binding.
fn generate_words(binding: &Binding, base: &Context) -> Result<Vec<String>, CwlError> {
    if binding.from_input && binding.datum.is_null() {
        return Ok(Vec::new());
    }
    let mut value = binding.datum.clone();
    if let Some(expression) = binding.spec.get("valueFrom") {
        let context = Context {
            self_: &binding.datum,
            ..*base
        };
        value = evaluate(expression, &context)?;
    }
    let prefix = binding.spec.get("prefix").and_then(Value::as_str);
    let separate = binding
        .spec
        .get("separate")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let items: Vec<Value> = match &value {
        Value::Array(list) => {
            if let Some(separator) = binding.spec.get("itemSeparator").and_then(Value::as_str) {
                if list.is_empty() {
                    return Ok(Vec::new());
                }
                vec![Value::String(
                    list.iter().map(to_word).collect::<Vec<_>>().join(separator),
                )]
            } else if binding.spec.contains_key("valueFrom") {
                let mut words: Vec<String> = prefix.map(str::to_string).into_iter().collect();
                words.extend(list.iter().map(to_word));
                return Ok(words);
            } else if let (Some(prefix), false) = (prefix, list.is_empty()) {
                return Ok(vec![prefix.to_string()]);
            } else {
                return Ok(Vec::new());
            }
        }
        Value::Object(_) if class_of(&value).is_some() => vec![value.clone()],
        Value::Object(_) => return Ok(prefix.map(str::to_string).into_iter().collect()),
        Value::Bool(true) => return Ok(prefix.map(str::to_string).into_iter().collect()),
        Value::Bool(false) | Value::Null => return Ok(Vec::new()),
        other => vec![other.clone()],
    };
    let mut words = Vec::new();
    for item in items {
        let text = to_word(&item);
        match (prefix, separate) {
            (Some(prefix), true) => {
                words.push(prefix.to_string());
                words.push(text);
            }
            (Some(prefix), false) => words.push(format!("{prefix}{text}")),
            (None, _) => words.push(text),
        }
    }
    Ok(words)
}

/// A value as one word: Files and Directories by their path, floats in plain decimal
/// notation (never `1e-05`), other values as in parameter references.
pub fn to_word(value: &Value) -> String {
    match value {
        Value::Object(_) if class_of(value).is_some() => value
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            format!("{f}")
        }
        other => super::expression::to_text(other),
    }
}

/// Quotes a word for `/bin/sh` (single quotes, `'` as `'\''`), unless it is made of
/// characters the shell leaves alone.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cwl::document::parse_tool;
    use serde_json::json;
    use std::path::Path;

    fn line(tool: &str, inputs: Value) -> Vec<String> {
        let tool = parse_tool(tool, Path::new("/tmp"), None).unwrap();
        let runtime = json!({"cores": 2, "outdir": "/var/spool/cwl"});
        build_command_line(&tool, &inputs, &runtime)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn positions_prefixes_and_item_separators() {
        let tool = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: python
inputs:
  - {id: reference, type: File, inputBinding: {position: 2}}
  - {id: reads, type: {type: array, items: File}, inputBinding: {position: 3}}
  - {id: minimum_seed_length, type: int, inputBinding: {position: 1, prefix: -m}}
  - id: min_std_max_min
    type: {type: array, items: int}
    inputBinding: {position: 1, prefix: -I, itemSeparator: ","}
  - {id: args.py, type: File, inputBinding: {position: -1}}
outputs: []
arguments:
  - bwa
  - mem
  - {valueFrom: $(runtime.cores), position: 1, prefix: -t}
"#;
        let file = |p: &str| json!({"class": "File", "path": p});
        let words = line(
            tool,
            json!({
                "reference": file("chr20.fa"),
                "reads": [file("r1.fastq"), file("r2.fastq")],
                "minimum_seed_length": 3,
                "min_std_max_min": [1, 2, 3, 4],
                "args.py": file("args.py"),
            }),
        );
        assert_eq!(
            words,
            vec![
                "python", "args.py", "bwa", "mem", "-t", "2", "-I", "1,2,3,4", "-m", "3",
                "chr20.fa", "r1.fastq", "r2.fastq"
            ]
        );
    }

    #[test]
    fn nested_prefixes_on_array_items() {
        let tool = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [bwa, mem]
inputs:
  reference: {type: File, inputBinding: {position: 2}}
  reads:
    type:
      type: array
      items: File
      inputBinding: {prefix: "-YYY"}
    inputBinding: {position: 3, prefix: "-XXX"}
outputs: []
"#;
        let file = |p: &str| json!({"class": "File", "path": p});
        let words = line(
            tool,
            json!({"reference": file("chr20.fa"), "reads": [file("a"), file("b")]}),
        );
        assert_eq!(
            words,
            vec!["bwa", "mem", "chr20.fa", "-XXX", "-YYY", "a", "-YYY", "b"]
        );
    }

    #[test]
    fn booleans_nulls_separate_and_floats() {
        let tool = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  flag: {type: boolean, inputBinding: {prefix: -f, position: 1}}
  off: {type: boolean, inputBinding: {prefix: -o, position: 2}}
  missing: {type: "int?", inputBinding: {prefix: -m, position: 3}}
  joined: {type: string, inputBinding: {prefix: "--x=", separate: false, position: 4}}
  small: {type: float, inputBinding: {position: 5}}
  empty: {type: "string[]", inputBinding: {prefix: -e, position: 6}}
outputs: []
"#;
        let words = line(
            tool,
            json!({"flag": true, "off": false, "missing": null, "joined": "v",
                   "small": 0.0000123, "empty": []}),
        );
        assert_eq!(words, vec!["echo", "-f", "--x=v", "0.0000123"]);
    }

    #[test]
    fn records_bind_their_fields_in_order() {
        let tool = r#"
cwlVersion: v1.2
class: CommandLineTool
baseCommand: echo
inputs:
  rec:
    type:
      type: record
      fields:
        b: {type: int, inputBinding: {position: 2, prefix: -b}}
        a: {type: int, inputBinding: {position: 1, prefix: -a}}
    inputBinding: {position: 1}
outputs: []
"#;
        assert_eq!(
            line(tool, json!({"rec": {"a": 1, "b": 2}})),
            vec!["echo", "-a", "1", "-b", "2"]
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("plain-1.txt"), "plain-1.txt");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
