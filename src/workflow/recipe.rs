//! Scale recipe types (v6) as workflows: the front door of
//! `POST /processes` with `Content-Type: application/vnd.ades.recipe+json`.
//!
//! The body is a Scale recipe type: `title`, `description`, an optional `name` (the
//! process id; else one is made from the title), an optional `version`, and `definition`
//! with `input` (`files` and `json`, Scale's data interface) and `nodes`, each with
//! `dependencies` (`[{"name": ...}]`), `input` connections (`{"type": "recipe", "input":
//! ...}` or `{"type": "dependency", "node": ..., "output": ...}`) and a `node_type`
//! (`{"node_type": "job", "job_type_name": <process id>, "job_type_version": ...}`).
//! Sub-recipes and condition nodes are refused with a message saying so. Every shape
//! problem is listed at once, like the graph problems of [`super::compile`].

use super::{Draft, Interface, Problem, Source, Step};
use seed::manifest::{InputFile, JsonInput, JsonType};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The draft a recipe type body describes, or every problem of its shape.
pub fn read_recipe(document: &Value) -> Result<Draft, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |pointer: &str, message: String| {
        problems.push(Problem {
            pointer: pointer.to_string(),
            message,
        })
    };
    let Some(recipe) = document.as_object() else {
        problem(
            "",
            "a recipe type is a JSON object with title, description and definition".to_string(),
        );
        return Err(problems);
    };
    let text = |key: &str| recipe.get(key).and_then(Value::as_str).map(str::trim);
    let title = text("title").unwrap_or_default().to_string();
    let id = match text("name") {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => slug(&title),
    };
    if id.is_empty() {
        problem(
            "/title",
            "the recipe has neither a name nor a title to make its process id from: add \"name\""
                .to_string(),
        );
    }
    let mut draft = Draft {
        id,
        version: text("version").unwrap_or("1.0.0").to_string(),
        title: if title.is_empty() {
            text("name").unwrap_or_default().to_string()
        } else {
            title
        },
        description: text("description").unwrap_or_default().to_string(),
        ..Draft::default()
    };
    let Some(definition) = recipe.get("definition").and_then(Value::as_object) else {
        problem(
            "/definition",
            "the recipe has no definition object (with input and nodes)".to_string(),
        );
        return Err(problems);
    };
    match definition.get("input") {
        None => {}
        Some(input) => match read_interface(input) {
            Ok(interface) => draft.inputs = interface,
            Err(more) => problems.extend(more),
        },
    }
    let Some(nodes) = definition.get("nodes").and_then(Value::as_object) else {
        problems.push(Problem {
            pointer: "/definition/nodes".to_string(),
            message: "the definition has no nodes object (node name -> node)".to_string(),
        });
        return Err(problems);
    };
    for (name, node) in nodes {
        let at = format!("/definition/nodes/{}", escape(name));
        draft.step_pointers.insert(name.clone(), at.clone());
        match read_node(name, node, &at) {
            Ok(step) => draft.steps.push(step),
            Err(more) => problems.extend(more),
        }
    }
    if problems.is_empty() {
        Ok(draft)
    } else {
        Err(problems)
    }
}

/// A process id from a title: lower case letters and digits, other runs as one '-'.
fn slug(title: &str) -> String {
    let mut id = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    id.trim_end_matches('-').chars().take(128).collect()
}

/// A JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn read_interface(input: &Value) -> Result<Interface, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut interface = Interface::default();
    let Some(input) = input.as_object() else {
        return Err(vec![Problem {
            pointer: "/definition/input".to_string(),
            message: "the recipe input is an object with files and json lists".to_string(),
        }]);
    };
    let list = |key: &str| {
        input
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for (n, file) in list("files").iter().enumerate() {
        let at = format!("/definition/input/files/{n}");
        let Some(name) = file.get("name").and_then(Value::as_str) else {
            problems.push(Problem {
                pointer: at,
                message: "a file input needs a name".to_string(),
            });
            continue;
        };
        let media_types = file
            .get("media_types")
            .or_else(|| file.get("mediaTypes"))
            .and_then(Value::as_array)
            .map(|types| {
                types
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        interface.files.push(InputFile {
            name: name.to_string(),
            required: flag(file, "required", true),
            media_types,
            multiple: flag(file, "multiple", false),
            partial: false,
        });
    }
    for (n, json) in list("json").iter().enumerate() {
        let at = format!("/definition/input/json/{n}");
        let name = json.get("name").and_then(Value::as_str);
        let kind = json
            .get("type")
            .cloned()
            .and_then(|t| serde_json::from_value::<JsonType>(t).ok());
        match (name, kind) {
            (Some(name), Some(kind)) => interface.json.push(JsonInput {
                name: name.to_string(),
                kind,
                required: flag(json, "required", true),
            }),
            _ => problems.push(Problem {
                pointer: at,
                message: "a json input needs a name and a type (array, boolean, integer, number, object or string)"
                    .to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(interface)
    } else {
        Err(problems)
    }
}

fn flag(object: &Value, key: &str, default: bool) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn read_node(name: &str, node: &Value, at: &str) -> Result<Step, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem =
        |pointer: String, message: String| problems.push(Problem { pointer, message });
    let empty = Map::new();
    let node = node.as_object().unwrap_or(&empty);
    let node_type = node.get("node_type").and_then(Value::as_object);
    let kind = node_type
        .and_then(|t| t.get("node_type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut process = String::new();
    let mut version = None;
    match kind {
        "job" => {
            let node_type = node_type.expect("a job node type");
            match node_type.get("job_type_name").and_then(Value::as_str) {
                Some(job_type) => process = job_type.to_string(),
                None => problem(
                    format!("{at}/node_type/job_type_name"),
                    format!("node {name:?} names no job_type_name (the process id to run)"),
                ),
            }
            version = node_type
                .get("job_type_version")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        "recipe" => problem(
            format!("{at}/node_type"),
            format!("node {name:?} is a sub-recipe: nested recipes are not supported yet; put its nodes in this recipe"),
        ),
        "condition" => problem(
            format!("{at}/node_type"),
            format!("node {name:?} is a condition node: conditions are not supported yet"),
        ),
        _ => problem(
            format!("{at}/node_type"),
            format!("node {name:?} needs a node_type with \"node_type\": \"job\" and the job_type_name to run"),
        ),
    }
    let mut after = Vec::new();
    for (n, dependency) in node
        .get("dependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match dependency.get("name").and_then(Value::as_str) {
            Some(before) => after.push(before.to_string()),
            None => problem(
                format!("{at}/dependencies/{n}"),
                "a dependency is {\"name\": \"<node>\"}".to_string(),
            ),
        }
    }
    let mut inputs = BTreeMap::new();
    let connections = node
        .get("input")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (input, connection) in &connections {
        let at_input = format!("{at}/input/{}", escape(input));
        let field = |key: &str| {
            connection
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let source = match field("type").as_deref() {
            Some("recipe") => field("input").map(|name| Source::Input { name }),
            Some("dependency") => match (field("node"), field("output")) {
                (Some(step), Some(output)) => Some(Source::Output { step, output }),
                _ => None,
            },
            Some("literal") => connection
                .get("value")
                .cloned()
                .map(|value| Source::Literal { value }),
            _ => None,
        };
        match source {
            Some(source) => {
                inputs.insert(input.clone(), source);
            }
            None => problem(
                at_input,
                format!(
                    "node {name:?} input {input:?}: a connection is {{\"type\": \"recipe\", \"input\": <recipe input>}} or {{\"type\": \"dependency\", \"node\": <node>, \"output\": <its output>}}"
                ),
            ),
        }
    }
    // Ours, not Scale's: `"scatter": "<input>"` runs the node once per file of that input.
    let scatter = node
        .get("scatter")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Ours, not Scale's: `"when": <connection>` (a boolean recipe input, a node's boolean
    // output or a literal) runs the node only when it is true.
    let when = match node.get("when") {
        None => None,
        Some(connection) => {
            let field = |key: &str| {
                connection
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let source = match field("type").as_deref() {
                Some("recipe") => field("input").map(|name| Source::Input { name }),
                Some("dependency") => match (field("node"), field("output")) {
                    (Some(step), Some(output)) => Some(Source::Output { step, output }),
                    _ => None,
                },
                Some("literal") => connection
                    .get("value")
                    .cloned()
                    .map(|value| Source::Literal { value }),
                _ => None,
            };
            if source.is_none() {
                problem(
                    format!("{at}/when"),
                    format!("node {name:?}: when is a connection, as a node input's is"),
                );
            }
            source
        }
    };
    // Scale lists a dependency for every node whose output a node reads; a recipe that
    // forgets it still means it, so it is added rather than refused.
    for source in inputs.values() {
        if let Source::Output { step, .. } = source {
            if !after.contains(step) {
                after.push(step.clone());
            }
        }
    }
    if problems.is_empty() {
        Ok(Step {
            name: name.to_string(),
            process,
            version,
            after,
            inputs,
            remote_outputs: None,
            scatter,
            when,
            ..Step::default()
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{lookup_in, process};
    use super::*;
    use serde_json::json;

    fn fan_out_fan_in() -> Value {
        json!({
            "name": "split-work-join",
            "title": "Split, work, join",
            "description": "fan out and in",
            "definition": {
                "input": {
                    "files": [{"name": "image", "media_types": ["image/tiff"], "required": true, "multiple": false}],
                    "json": [{"name": "level", "type": "integer", "required": false}]
                },
                "nodes": {
                    "split": {"dependencies": [], "input": {"image": {"type": "recipe", "input": "image"}},
                              "node_type": {"node_type": "job", "job_type_name": "split", "job_type_version": "1.0.0", "job_type_revision": 1}},
                    "left": {"dependencies": [{"name": "split"}], "input": {
                                "part": {"type": "dependency", "node": "split", "output": "left"},
                                "level": {"type": "recipe", "input": "level"}},
                             "node_type": {"node_type": "job", "job_type_name": "work", "job_type_version": "1.0.0"}},
                    "right": {"dependencies": [{"name": "split", "acceptance": true}], "input": {
                                "part": {"type": "dependency", "node": "split", "output": "right"}},
                              "node_type": {"node_type": "job", "job_type_name": "work", "job_type_version": "1.0.0"}},
                    "join": {"dependencies": [{"name": "left"}, {"name": "right"}], "input": {
                                "a": {"type": "dependency", "node": "left", "output": "result"},
                                "b": {"type": "dependency", "node": "right", "output": "result"}},
                             "node_type": {"node_type": "job", "job_type_name": "join", "job_type_version": "1.0.0"}}
                }
            }
        })
    }

    #[test]
    fn a_scale_recipe_becomes_a_workflow() {
        let draft = read_recipe(&fan_out_fan_in()).unwrap();
        assert_eq!(draft.id, "split-work-join");
        assert_eq!(draft.inputs.files[0].media_types, ["image/tiff"]);
        assert!(!draft.inputs.json[0].required);
        let lookup = lookup_in(vec![
            process("split", &["image:file"], &["left:file", "right:file"]),
            process("work", &["part:file", "level?:int"], &["result:file"]),
            process("join", &["a:file", "b:file"], &["joined:file"]),
        ]);
        let workflow = super::super::compile(draft, &lookup).unwrap();
        assert_eq!(workflow.steps[0].name, "split");
        assert_eq!(workflow.steps[3].name, "join");
        assert_eq!(workflow.outputs[0].id(), "join.joined");
    }

    #[test]
    fn the_title_makes_the_id_when_there_is_no_name() {
        let mut recipe = fan_out_fan_in();
        recipe.as_object_mut().unwrap().remove("name");
        assert_eq!(read_recipe(&recipe).unwrap().id, "split-work-join");
    }

    #[test]
    fn shape_problems_are_all_listed() {
        let problems = read_recipe(&json!({
            "title": "x",
            "definition": {"input": {"json": [{"name": "n"}]}, "nodes": {
                "a": {"node_type": {"node_type": "recipe", "recipe_type_name": "r"}},
                "b": {"node_type": {"node_type": "job", "job_type_name": "p"},
                      "input": {"i": {"type": "dependency", "node": "a"}}},
            }}
        }))
        .unwrap_err();
        let text = super::super::describe_problems(&problems);
        assert_eq!(problems.len(), 3, "{text}");
        assert!(text.contains("sub-recipe"), "{text}");
        assert!(text.contains("/definition/nodes/b/input/i"), "{text}");
        assert!(text.contains("needs a name and a type"), "{text}");
    }
}
