//! A Seed manifest as an equivalent CWL CommandLineTool (`ades seed to-cwl`, and
//! `GET /processes/{id}/package?f=cwl` of a Seed process), so that other ADES and EMS can
//! run our images.
//!
//! What maps to what:
//! - `job.name` → `id`, `title` → `label`, `description` → `doc`, `jobVersion` →
//!   `s:softwareVersion`, `tags` → `s:keywords`; the image → `DockerRequirement.dockerPull`.
//! - The command: each of its words (split as the Seed contract splits them) is one
//!   `arguments` entry, `${NAME}` and `$NAME` becoming parameter references
//!   (`$(inputs.NAME)`, `$(runtime.outdir)` for `OUTPUT_DIR`); a word that is only one
//!   reference is left out when the input is absent, as Seed drops empty words. The Bash
//!   forms `${X:-WORD}` and `${X/#/WORD}` have no parameter-reference equivalent: such a
//!   manifest is refused, naming the word.
//! - The environment the Seed contract gives (`OUTPUT_DIR`, each required input by its
//!   normalized name, `ALLOCATED_*`) → `EnvVarRequirement`. Optional inputs are not in it:
//!   CWL cannot leave a variable unset.
//! - File inputs → `File` (`Directory` when `multiple`: Seed gives such an input as a
//!   directory), `?` when optional; their media types → `doc` (a `format` would make
//!   runners refuse files that declare none). Output media types → `format` (IANA IRIs). JSON inputs →
//!   `string`, `long`, `double`, `boolean`, or `Any` for objects and arrays.
//! - File outputs → `File` (`File[]` when `multiple`) with `outputBinding.glob` = the Seed
//!   pattern. JSON outputs are left out: reading `seed.outputs.json` needs JavaScript,
//!   which ades does not run; the tool's `doc` says so.
//! - `resources` → `ResourceRequirement` (`cpus` → `coresMin`, `mem` → `ramMin`, `disk` →
//!   `outdirMin`), `timeout` → `ToolTimeLimit`. Settings and mounts are the operator's and
//!   have no place in a tool.

use seed::manifest::JsonType;
use seed::names::normalize;
use seed::Manifest;
use serde_json::{json, Map, Value};

const IANA: &str = "https://www.iana.org/assignments/media-types/";

/// The CWL document (as JSON) for `manifest` run from `image`.
pub fn seed_to_cwl(manifest: &Manifest, image: &str) -> Result<Value, String> {
    let job = &manifest.job;
    let interface = manifest.interface();
    // Input name -> whether it is a file (its reference then names the File, whose text is
    // its path) and whether it is required.
    let mut known: Vec<(String, bool, bool)> = Vec::new();
    let mut inputs = Map::new();
    let mut env = Map::new();
    env.insert("OUTPUT_DIR".into(), json!("$(runtime.outdir)"));
    for file in &interface.inputs.files {
        let class = if file.multiple { "Directory" } else { "File" };
        let ty = if file.required {
            class.to_string()
        } else {
            format!("{class}?")
        };
        let mut input = json!({"type": ty});
        // Not a `format`: runners then refuse every File that does not declare one, while
        // Seed takes any file and lists its types as what the job reads.
        if !file.media_types.is_empty() {
            input["doc"] = json!(format!("Media types: {}.", file.media_types.join(", ")));
        }
        inputs.insert(file.name.clone(), input);
        if file.required {
            env.insert(
                normalize(&file.name),
                json!(format!("$(inputs.{}.path)", file.name)),
            );
        }
        known.push((file.name.clone(), true, file.required));
    }
    for value in &interface.inputs.json {
        let base = match value.kind {
            JsonType::String => "string",
            JsonType::Integer => "long",
            JsonType::Number => "double",
            JsonType::Boolean => "boolean",
            JsonType::Object | JsonType::Array => "Any",
        };
        let ty = if value.required || base == "Any" {
            base.to_string()
        } else {
            format!("{base}?")
        };
        inputs.insert(value.name.clone(), json!({"type": ty}));
        if value.required {
            env.insert(
                normalize(&value.name),
                json!(format!("$(inputs.{})", value.name)),
            );
        }
        known.push((value.name.clone(), false, value.required));
    }
    for resource in manifest.scalar_resources() {
        env.insert(
            format!("ALLOCATED_{}", normalize(&resource.name)),
            // CWL environment values are strings.
            json!(amount(resource.value).to_string()),
        );
    }

    let mut arguments = Vec::new();
    if let Some(command) = interface.command.as_deref() {
        for word in command.split_ascii_whitespace() {
            arguments.push(argument(word, &known)?);
        }
    }

    let mut outputs = Map::new();
    for file in &interface.outputs.files {
        let ty = match (file.multiple, file.required) {
            (true, _) => "File[]",
            (false, true) => "File",
            (false, false) => "File?",
        };
        let mut output = json!({"type": ty, "outputBinding": {"glob": file.pattern}});
        if let Some(mt) = &file.media_type {
            if !file.multiple {
                output["format"] = json!(format!("iana:{mt}"));
            }
        }
        outputs.insert(file.name.clone(), output);
    }

    let mut requirements = Map::new();
    requirements.insert("DockerRequirement".into(), json!({"dockerPull": image}));
    requirements.insert("EnvVarRequirement".into(), json!({"envDef": env}));
    let mut resources = Map::new();
    for resource in manifest.scalar_resources() {
        let key = match resource.name.as_str() {
            "cpus" => "coresMin",
            "mem" => "ramMin",
            "disk" => "outdirMin",
            _ => continue,
        };
        resources.insert(key.into(), json!(amount(resource.value)));
    }
    if !resources.is_empty() {
        requirements.insert("ResourceRequirement".into(), Value::Object(resources));
    }
    if job.timeout > 0 {
        requirements.insert("ToolTimeLimit".into(), json!({"timelimit": job.timeout}));
    }

    let mut doc = job.description.clone();
    if !interface.outputs.json.is_empty() {
        let names: Vec<&str> = interface
            .outputs
            .json
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        doc.push_str(&format!(
            "\n\nThe Seed json outputs ({}) are in seed.outputs.json of the output \
             directory; they are not CWL outputs here.",
            names.join(", ")
        ));
    }
    let mut tool = json!({
        "cwlVersion": "v1.2",
        "class": "CommandLineTool",
        "id": job.name,
        "label": job.title,
        "doc": doc.trim(),
        "$namespaces": {"s": "https://schema.org/", "iana": IANA},
        "s:softwareVersion": job.job_version,
        "requirements": requirements,
        "inputs": inputs,
        "outputs": outputs,
    });
    if !job.tags.is_empty() {
        tool["s:keywords"] = json!(job.tags);
    }
    if !arguments.is_empty() {
        tool["arguments"] = Value::Array(arguments);
    }
    Ok(tool)
}

fn amount(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// One word of the Seed command as a CWL argument.
fn argument(word: &str, known: &[(String, bool, bool)]) -> Result<Value, String> {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && matches!(chars.get(i + 1), Some('$' | '{' | '}' | '\\')) {
            let next = chars[i + 1];
            // CWL reads `$(` as a reference: its own escape keeps a literal one.
            if next == '$' {
                out.push_str("\\$");
            } else {
                out.push(next);
            }
            i += 2;
            continue;
        }
        if c == '$' {
            let (name, end) = if chars.get(i + 1) == Some(&'{') {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .map(|p| i + p)
                    .ok_or_else(|| format!("the command word {word:?} has a ${{ without }}"))?;
                let inner: String = chars[i + 2..close].iter().collect();
                (inner, close + 1)
            } else {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    // A literal `$` (Seed rule 8); escaped so CWL does not read `$(`.
                    out.push_str("\\$");
                    i += 1;
                    continue;
                }
                let end = i + 1 + name.chars().count();
                (name, end)
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "the command word {word:?} uses the Bash form ${{{name}}}, which a CWL \
                     parameter reference cannot express: use plain ${{NAME}} references"
                ));
            }
            out.push_str(&reference(&name, known));
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
    // A word that is only a reference to an absent input is null, and CWL leaves a null
    // argument out, as Seed drops an empty word.
    Ok(json!({"valueFrom": out}))
}

/// The parameter reference for a Seed variable.
fn reference(name: &str, known: &[(String, bool, bool)]) -> String {
    if name == "OUTPUT_DIR" {
        return "$(runtime.outdir)".to_string();
    }
    let input = known
        .iter()
        .find(|(input, _, _)| input == name || normalize(input) == name);
    match input {
        Some((input, true, true)) => format!("$(inputs.{input}.path)"),
        // An optional file: the File itself, whose text is its path (null when absent).
        Some((input, _, _)) => format!("$(inputs.{input})"),
        // Not an input: the Seed contract gives it from the environment (a setting, a
        // mount, ALLOCATED_*), which the tool's shell is not there to read.
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(command: &str) -> Manifest {
        seed::validate::manifest_from_value(json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": "up", "jobVersion": "1.2.0", "packageVersion": "1.0.0",
                "title": "Up", "description": "Upper-cases",
                "maintainer": {"name": "a", "email": "a@example.org"},
                "timeout": 60, "tags": ["text"],
                "resources": {"scalar": [{"name": "cpus", "value": 2}, {"name": "mem", "value": 128.5}]},
                "interface": {
                    "command": command,
                    "inputs": {
                        "files": [{"name": "TEXT", "mediaTypes": ["text/plain"]},
                                  {"name": "MORE", "required": false, "multiple": true}],
                        "json": [{"name": "WORD", "type": "string"}, {"name": "N", "type": "integer", "required": false}]
                    },
                    "outputs": {
                        "files": [{"name": "UP", "pattern": "up.txt", "mediaType": "text/plain"},
                                  {"name": "ALL", "pattern": "*.log", "multiple": true}],
                        "json": [{"name": "COUNT", "type": "integer"}]
                    }
                }
            }
        }))
        .unwrap()
        .manifest
    }

    #[test]
    fn a_manifest_becomes_an_equivalent_tool() {
        let tool = seed_to_cwl(
            &manifest("-i ${TEXT} $WORD --n=${N} ${MORE} \\$HOME ${OUTPUT_DIR}/x"),
            "reg/up:1",
        )
        .unwrap();
        assert_eq!(tool["id"], "up");
        assert_eq!(tool["s:softwareVersion"], "1.2.0");
        assert_eq!(
            tool["requirements"]["DockerRequirement"]["dockerPull"],
            "reg/up:1"
        );
        assert_eq!(
            tool["requirements"]["ResourceRequirement"],
            json!({"coresMin": 2, "ramMin": 128.5})
        );
        assert_eq!(tool["requirements"]["ToolTimeLimit"]["timelimit"], 60);
        let env = &tool["requirements"]["EnvVarRequirement"]["envDef"];
        assert_eq!(env["TEXT"], "$(inputs.TEXT.path)");
        assert_eq!(env["OUTPUT_DIR"], "$(runtime.outdir)");
        assert_eq!(env["ALLOCATED_CPUS"], "2");
        assert!(env.get("N").is_none(), "optional inputs stay unset");
        let words: Vec<&str> = tool["arguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["valueFrom"].as_str().unwrap())
            .collect();
        assert_eq!(
            words,
            [
                "-i",
                "$(inputs.TEXT.path)",
                "$(inputs.WORD)",
                "--n=$(inputs.N)",
                "$(inputs.MORE)",
                "\\$HOME",
                "$(runtime.outdir)/x"
            ]
        );
        assert_eq!(tool["inputs"]["MORE"]["type"], "Directory?");
        assert_eq!(tool["inputs"]["N"]["type"], "long?");
        assert_eq!(tool["outputs"]["ALL"]["type"], "File[]");
        assert_eq!(tool["outputs"]["UP"]["format"], "iana:text/plain");
        assert!(tool["outputs"].get("COUNT").is_none());
        assert!(tool["doc"].as_str().unwrap().contains("COUNT"));
        // The tool reads back as a CommandLineTool.
        crate::cwl::process::load_entry(&tool, None).unwrap();
    }

    #[test]
    fn bash_forms_are_refused_naming_the_word() {
        let error = seed_to_cwl(&manifest("${TEXT/#/-t }"), "x").unwrap_err();
        assert!(error.contains("${TEXT/#/-t"), "{error}");
        let error = seed_to_cwl(&manifest("${N:-3}"), "x").unwrap_err();
        assert!(error.contains("N:-3"), "{error}");
    }
}
