//! CWL CommandLineTools and Workflows: `ades cwl run` (the real binary) on a small tool and
//! a small workflow (scatter, valueFrom) in real containers, their outputs equal to the
//! reference runner's (`cwltool` from PyPI, on the same local Docker engine), independent
//! steps running at once, a failed step failing the workflow, JavaScript run under its
//! requirement and refused without it, and a fixed subset of the CWL v1.2 conformance tests through `cwltest` so
//! that a regression fails here.
//!
//! cwltest and cwltool come from the virtual environment `scripts/test-all.sh` makes
//! (`target/py-cwl`, or `ADES_TEST_CWL_VENV`); the images from
//! `conformance/cwl/build-base.sh` (one local image tagged `debian:stable-slim`,
//! `python:3-slim`, ...: there is no registry to pull from). Without them the tests fail
//! saying so, never skip.

use crate::support::{ades, assert_owned_by_us, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The virtual environment with cwltest and cwltool.
fn cwl_venv() -> PathBuf {
    let venv = std::env::var("ADES_TEST_CWL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/py-cwl"));
    assert!(
        venv.join("bin/cwltest").exists() && venv.join("bin/cwltool").exists(),
        "cwltest and cwltool are missing from {}: run scripts/test-all.sh, or \
         python3 -m venv {0} && {0}/bin/pip install cwltest cwltool",
        venv.display()
    );
    venv
}

/// Builds the local base image and its conformance tags once per test process.
fn base_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo_root().join("conformance/cwl/build-base.sh"))
            .status()
            .expect("run conformance/cwl/build-base.sh");
        assert!(status.success(), "conformance/cwl/build-base.sh failed");
    });
}

const UPPER_TOOL: &str = r#"
cwlVersion: v1.2
class: CommandLineTool
label: Upper case
requirements:
  DockerRequirement: {dockerPull: debian:stable-slim}
  EnvVarRequirement:
    envDef: {GREETING: $(inputs.greeting)}
inputs:
  text: File
  greeting:
    type: string
    inputBinding: {position: 1}
  count:
    type: int?
    inputBinding: {prefix: -n, position: 2}
baseCommand: [sh, -c, 'tr a-z A-Z; echo "$GREETING $1 $2 $3"', upper]
stdin: $(inputs.text.path)
stdout: upper.txt
outputs:
  upper:
    type: File
    outputBinding: {glob: upper.txt}
  first_line:
    type: string
    outputBinding:
      glob: upper.txt
      loadContents: true
      outputEval: $(self[0].contents)
  said:
    type: string
    outputBinding: {outputEval: "$(inputs.greeting) to $(inputs.text.basename)"}
"#;

/// A tool, a job and its input file in a fresh directory.
fn upper_tool() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("upper.cwl");
    std::fs::write(&tool, UPPER_TOOL).unwrap();
    // No space in the name: cwltool refuses those.
    std::fs::write(dir.path().join("input.txt"), "hello cwl\n").unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        "text: {class: File, location: input.txt}\ngreeting: salut\ncount: 3\n",
    )
    .unwrap();
    (dir, tool, job)
}

fn sha1_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn cwl_run_runs_a_tool_in_a_container_and_prints_its_output_object() {
    base_image();
    let (dir, tool, job) = upper_tool();
    let outdir = dir.path().join("out");
    let ran = ades(&[
        "cwl",
        "run",
        "--outdir",
        outdir.to_str().unwrap(),
        tool.to_str().unwrap(),
        job.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let outputs: Value = serde_json::from_str(&ran.stdout).expect("the output object");
    let expected = "HELLO CWL\nsalut salut -n 3\n";
    let upper = &outputs["upper"];
    assert_eq!(upper["class"], "File");
    assert_eq!(upper["basename"], "upper.txt");
    assert_eq!(upper["size"], expected.len());
    assert_eq!(
        upper["checksum"],
        format!("sha1${}", sha1_hex(expected.as_bytes()))
    );
    // The file is in the output directory, where its location says, and ours.
    let file = outdir.join("upper.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    assert_eq!(
        upper["location"],
        format!("file://{}", file.canonicalize().unwrap().display())
    );
    assert_owned_by_us(&outdir);
    assert_eq!(outputs["first_line"], expected);
    assert_eq!(outputs["said"], "salut to input.txt");
}

#[test]
fn cwl_run_gives_the_same_outputs_as_cwltool() {
    base_image();
    let venv = cwl_venv();
    let (dir, tool, job) = upper_tool();
    let ours = ades(&[
        "cwl",
        "run",
        "--outdir",
        dir.path().join("ours").to_str().unwrap(),
        tool.to_str().unwrap(),
        job.to_str().unwrap(),
    ]);
    assert_eq!(ours.code, 0, "{ours:?}");
    let reference = Command::new(venv.join("bin/cwltool"))
        .args(["--quiet", "--outdir"])
        .arg(dir.path().join("theirs"))
        .arg(&tool)
        .arg(&job)
        .output()
        .expect("run cwltool");
    assert!(
        reference.status.success(),
        "cwltool failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let ours: Value = serde_json::from_str(&ours.stdout).unwrap();
    let theirs: Value = serde_json::from_slice(&reference.stdout).unwrap();
    for key in ["basename", "size", "checksum", "class"] {
        assert_eq!(ours["upper"][key], theirs["upper"][key], "upper.{key}");
    }
    assert_eq!(ours["first_line"], theirs["first_line"]);
    assert_eq!(ours["said"], theirs["said"]);
}

#[test]
fn javascript_runs_under_its_requirement_and_is_refused_without_it() {
    base_image();
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("js.cwl");
    let text = "cwlVersion: v1.2\nclass: CommandLineTool\n\
                requirements: {InlineJavascriptRequirement: {expressionLib: ['function half(n) { return n / 2; }']}}\n\
                inputs: {n: {type: int, default: 84}}\nbaseCommand: echo\n\
                arguments: ['${return half(inputs.n);}', $(inputs.n.toString(16))]\n\
                stdout: out.txt\n\
                outputs: {said: {type: string, outputBinding: {glob: out.txt, loadContents: true, \
                outputEval: '$(self[0].contents.trim())'}}}\n";
    std::fs::write(&tool, text).unwrap();
    let ran = ades(&[
        "cwl",
        "run",
        "--outdir",
        dir.path().join("out").to_str().unwrap(),
        tool.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let outputs: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(outputs["said"], "42 54", "{outputs:#}");

    // The same tool without the requirement is refused before it runs, naming the
    // expression and what to declare.
    let bare = dir.path().join("bare.cwl");
    std::fs::write(
        &bare,
        text.replace("InlineJavascriptRequirement", "EnvVarRequirement")
            .replace(
                "expressionLib: ['function half(n) { return n / 2; }']",
                "envDef: {}",
            ),
    )
    .unwrap();
    let ran = ades(&["cwl", "run", bare.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("${return half(inputs.n);}"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("InlineJavascriptRequirement"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_job_missing_a_required_input_is_refused_saying_which() {
    let (dir, tool, _) = upper_tool();
    let job = dir.path().join("partial.yml");
    std::fs::write(&job, "greeting: hi\n").unwrap();
    let ran = ades(&["cwl", "run", tool.to_str().unwrap(), job.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("input text must be File"),
        "{}",
        ran.stderr
    );
}

const SHOUT_WORKFLOW: &str = r#"
cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
  StepInputExpressionRequirement: {}
hints:
  DockerRequirement: {dockerPull: debian:stable-slim}
inputs:
  texts: File[]
  label: string
outputs:
  upper:
    type: File[]
    outputSource: shout/upper
  joined:
    type: File
    outputSource: join/joined
steps:
  shout:
    scatter: text
    in: {text: texts}
    out: [upper]
    run:
      class: CommandLineTool
      inputs:
        text: File
      baseCommand: [tr, a-z, A-Z]
      stdin: $(inputs.text.path)
      stdout: $(inputs.text.nameroot).upper
      outputs:
        upper: {type: File, outputBinding: {glob: "*.upper"}}
  join:
    in:
      files: shout/upper
      name:
        source: label
        valueFrom: joined-$(self).txt
    out: [joined]
    run:
      class: CommandLineTool
      inputs:
        files: {type: "File[]", inputBinding: {position: 1}}
        name: string
      baseCommand: cat
      stdout: $(inputs.name)
      outputs:
        joined: {type: File, outputBinding: {glob: $(inputs.name)}}
"#;

/// The workflow above, two input files and a job in a fresh directory.
fn shout_workflow() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("shout.cwl");
    std::fs::write(&workflow, SHOUT_WORKFLOW).unwrap();
    std::fs::write(dir.path().join("one.txt"), "first file\n").unwrap();
    std::fs::write(dir.path().join("two.txt"), "second one\n").unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        "texts: [{class: File, location: one.txt}, {class: File, location: two.txt}]\n\
         label: both\n",
    )
    .unwrap();
    (dir, workflow, job)
}

#[test]
fn cwl_run_runs_a_workflow_with_scatter_and_gives_cwltools_outputs() {
    base_image();
    let venv = cwl_venv();
    let (dir, workflow, job) = shout_workflow();
    let outdir = dir.path().join("ours");
    let ours = ades(&[
        "cwl",
        "run",
        "--outdir",
        outdir.to_str().unwrap(),
        workflow.to_str().unwrap(),
        job.to_str().unwrap(),
    ]);
    assert_eq!(ours.code, 0, "{ours:?}");
    let ours: Value = serde_json::from_str(&ours.stdout).expect("the output object");
    // What the steps did, read from the files in the output directory.
    assert_eq!(
        std::fs::read_to_string(outdir.join("one.upper")).unwrap(),
        "FIRST FILE\n"
    );
    assert_eq!(
        std::fs::read_to_string(outdir.join("joined-both.txt")).unwrap(),
        "FIRST FILE\nSECOND ONE\n"
    );
    assert_owned_by_us(&outdir);
    let reference = Command::new(venv.join("bin/cwltool"))
        .args(["--quiet", "--outdir"])
        .arg(dir.path().join("theirs"))
        .arg(&workflow)
        .arg(&job)
        .output()
        .expect("run cwltool");
    assert!(
        reference.status.success(),
        "cwltool failed: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    let theirs: Value = serde_json::from_slice(&reference.stdout).unwrap();
    let files = |outputs: &Value| -> Vec<Value> {
        let mut all = outputs["upper"].as_array().cloned().unwrap_or_default();
        all.push(outputs["joined"].clone());
        all.iter()
            .map(|f| serde_json::json!([f["class"], f["basename"], f["size"], f["checksum"]]))
            .collect()
    };
    assert_eq!(files(&ours).len(), 3, "{ours}");
    assert_eq!(files(&ours), files(&theirs));
}

const SPAN_WORKFLOW: &str = r##"
cwlVersion: v1.2
class: Workflow
inputs: []
outputs:
  a: {type: string, outputSource: a/span}
  b: {type: string, outputSource: b/span}
steps:
  a: {run: "#span", in: {}, out: [span]}
  b: {run: "#span", in: {}, out: [span]}
"##;

const SPAN_TOOL: &str = r#"
class: CommandLineTool
id: span
requirements:
  DockerRequirement: {dockerPull: debian:stable-slim}
inputs: []
baseCommand: [sh, -c, 'date +%s.%N; sleep 2; date +%s.%N']
stdout: span.txt
outputs:
  span:
    type: string
    outputBinding:
      glob: span.txt
      loadContents: true
      outputEval: $(self[0].contents)
"#;

#[test]
fn independent_steps_of_a_workflow_run_at_once() {
    base_image();
    let dir = tempfile::tempdir().unwrap();
    // A packed document: the workflow and the tool it runs twice in one $graph.
    let indent = |text: &str| {
        text.trim()
            .lines()
            .enumerate()
            .map(|(i, l)| format!("{}{l}", if i == 0 { "- " } else { "  " }))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let packed = format!(
        "cwlVersion: v1.2\n$graph:\n{}\n  id: main\n{}\n",
        indent(SPAN_WORKFLOW.replace("cwlVersion: v1.2\n", "").as_str()),
        indent(SPAN_TOOL)
    );
    let workflow = dir.path().join("spans.cwl");
    std::fs::write(&workflow, packed).unwrap();
    let ran = ades(&[
        "cwl",
        "run",
        "--outdir",
        dir.path().join("out").to_str().unwrap(),
        workflow.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let outputs: Value = serde_json::from_str(&ran.stdout).unwrap();
    let span = |step: &str| -> (f64, f64) {
        let text = outputs[step].as_str().unwrap_or_default();
        let times: Vec<f64> = text
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(times.len(), 2, "{text:?}");
        (times[0], times[1])
    };
    let (a, b) = (span("a"), span("b"));
    // Each step sleeps 2 s: one after the other, one would start after the other ended.
    assert!(a.0 < b.1 && b.0 < a.1, "a ran {a:?}, b ran {b:?}");
}

#[test]
fn a_failed_step_fails_the_workflow_naming_the_step() {
    base_image();
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("fails.cwl");
    std::fs::write(
        &workflow,
        "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs:\n  \
         o: {type: File, outputSource: after/o}\nsteps:\n  broken:\n    in: []\n    \
         out: [o]\n    run:\n      class: CommandLineTool\n      \
         requirements: {DockerRequirement: {dockerPull: debian:stable-slim}}\n      \
         inputs: []\n      baseCommand: [sh, -c, 'exit 3']\n      \
         outputs: {o: {type: File, outputBinding: {glob: x}}}\n  after:\n    \
         in: {i: broken/o}\n    out: [o]\n    run:\n      class: CommandLineTool\n      \
         inputs: {i: File}\n      baseCommand: cat\n      \
         outputs: {o: {type: File, outputBinding: {glob: x}}}\n",
    )
    .unwrap();
    let ran = ades(&["cwl", "run", workflow.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("step main/broken"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("[step main/after]"), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
}

#[test]
fn javascript_in_a_step_without_the_requirement_is_refused_before_any_step_runs() {
    let (dir, _, job) = shout_workflow();
    let workflow = dir.path().join("js.cwl");
    std::fs::write(
        &workflow,
        SHOUT_WORKFLOW.replace("joined-$(self).txt", "$(self.toUpperCase())"),
    )
    .unwrap();
    let ran = ades(&[
        "cwl",
        "run",
        workflow.to_str().unwrap(),
        job.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("$(self.toUpperCase())"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("[step "), "{}", ran.stderr);
}

#[test]
fn a_workflow_whose_source_names_nothing_is_refused_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join("bad.cwl");
    std::fs::write(
        &workflow,
        "cwlVersion: v1.2\nclass: Workflow\ninputs: {x: string}\noutputs:\n  \
         o: {type: string, outputSource: nowhere/o}\nsteps:\n  s:\n    \
         in: {i: y}\n    out: [o]\n    run:\n      class: CommandLineTool\n      \
         inputs: {i: string}\n      baseCommand: echo\n      outputs: {o: string}\n",
    )
    .unwrap();
    let ran = ades(&["cwl", "run", workflow.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("output o reads nowhere/o"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("step s input i reads y"),
        "{}",
        ran.stderr
    );
}

/// Required CommandLineTool conformance tests, one or more of each feature, Workflow tests
/// (scatter, valueFrom, subworkflows, when, pickValue) and JavaScript ones (tools,
/// ExpressionTools, workflows), that must keep passing (the whole suite:
/// conformance/cwl/run.sh).
/// (Not the first test of the list, `cl_basic_generation`: cwltest's `-s` cannot select
/// test number 0.)
const CONFORMANCE_SUBSET: [&str; 52] = [
    "valuefrom_constant_overrides_inputs",
    "nested_prefixes_arrays",
    "cl_optional_inputs_missing",
    "cl_optional_bindings_provided",
    "stdinout_redirect_docker",
    "stdinout_redirect",
    "any_input_param",
    "metadata",
    "format_checking",
    "json_output_path_relative",
    "multiple_glob_expr_list",
    "directory_output",
    "input_file_literal",
    "nameroot_nameext_stdout_expr",
    "cl_gen_arrayofarrays",
    "hints_import",
    "shelldir_notinterpreted",
    "outputbinding_glob_sorted",
    "success_codes",
    "stdin_from_directory_literal_with_literal_file",
    "secondary_files_in_unnamed_records",
    "any_input_param_graph_no_default_hashmain",
    "record_outputeval_nojs",
    "capture_files_and_dirs",
    // Workflows.
    "wf_simple",
    "wf_compound_doc",
    "wf_two_inputfiles_namecollision",
    "wf_step_access_undeclared_param",
    "step_input_default_value_overriden_2nd_step_null_noexp",
    "wf_scatter_two_nested_crossproduct",
    "wf_scatter_nested_crossproduct_secondempty",
    "wf_scatter_twoparam_dotproduct_valuefrom",
    "nested_workflow_noexp",
    "first_non_null_second_non_null_nojs",
    "conditionals_non_boolean_fail_nojs",
    "multiple-input-feature-requirement",
    "all_non_null_multi_non_null_nojs",
    // JavaScript.
    "inputBinding_position_expr",
    "paramref_arguments_inputs",
    "expression_parseint",
    "expression_outputEval",
    "expression_tool_int_array_output",
    "exprtool_file_literal",
    "null_missing_params",
    "js-input-record",
    "very_big_and_very_floats",
    "wf_wc_scatter",
    "valuefrom_wf_step_multiple",
    "expressionlib_tool_wf_override",
    "scatter_multi_input_embedded_subworkflow",
    // loadListing.
    "listing_requirement_shallow",
    "listing_loadListing_deep",
];

#[test]
fn a_subset_of_the_cwl_conformance_tests_passes_through_cwltest() {
    base_image();
    let venv = cwl_venv();
    let root = repo_root();
    let conformance = root.join("conformance/cwl");
    let output = Command::new(venv.join("bin/cwltest"))
        .arg("--test")
        .arg(conformance.join("v1.2/conformance_tests.yaml"))
        .arg("--tool")
        .arg(conformance.join("ades-cwl-runner"))
        .args(["-j", "2", "-s", &CONFORMANCE_SUBSET.join(",")])
        .env("ADES_BIN", env!("CARGO_BIN_EXE_ades"))
        .current_dir(Path::new(&root))
        .output()
        .expect("run cwltest");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        log.contains(&format!(
            "{} tests passed, 0 failures, 0 unsupported features",
            CONFORMANCE_SUBSET.len()
        )) || log.contains("All tests passed"),
        "{log}"
    );
    assert!(output.status.success(), "{log}");
}
