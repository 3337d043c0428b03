//! CWL CommandLineTools: `ades cwl run` (the real binary) on a small tool in a real
//! container, its outputs equal to the reference runner's (`cwltool` from PyPI, on the same
//! local Docker engine), JavaScript refused naming the expression, and a fixed subset of the
//! CWL v1.2 conformance tests through `cwltest` so that a regression fails here.
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
fn javascript_is_refused_naming_the_expression() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("js.cwl");
    std::fs::write(
        &tool,
        "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements: {InlineJavascriptRequirement: {}}\n\
         inputs: []\noutputs: []\nbaseCommand: echo\narguments: ['${return 6 * 7;}']\n",
    )
    .unwrap();
    let ran = ades(&["cwl", "run", tool.to_str().unwrap()]);
    assert_eq!(ran.code, 33, "{ran:?}");
    assert!(ran.stderr.contains("${return 6 * 7;}"), "{}", ran.stderr);
    assert!(ran.stderr.contains("JavaScript"), "{}", ran.stderr);
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

/// Required CommandLineTool conformance tests, one or more of each feature, that must keep
/// passing (the whole suite: conformance/cwl/run.sh).
/// (Not the first test of the list, `cl_basic_generation`: cwltest's `-s` cannot select
/// test number 0.)
const CONFORMANCE_SUBSET: [&str; 24] = [
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
