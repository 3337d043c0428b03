//! The runtime contract: from a manifest and a user's invocation to what the container gets
//! (environment, argv, bind mounts, resource allocation), checked before anything starts.
//!
//! Choices (seed-notes 4.1-4.10; details on [`plan_launch`]):
//! - Container paths are fixed, like Scale: `OUTPUT_DIR` = [`Layout::output_dir`]
//!   (`/seed/outputs`); a single input file is bound read-only at
//!   `/seed/inputs/<NORM(name)>/<file name>`, a `multiple` input's files are each bound
//!   read-only directly under `/seed/inputs/<NORM(name)>/` (a clash of file names inside one
//!   input is resolved by prefixing `<index>-`).
//! - Invocation keys are matched after [`crate::names::normalize`] (`-i input-file=` works),
//!   mount keys exactly (as seed-cli).
//! - Missing required inputs/settings/mounts, unknown keys, files that do not exist, several
//!   files for a non-multiple input, json values of the wrong type: all reported at once, each
//!   naming the key and what is expected.
//! - JSON inputs are injected: string raw, number/integer JSON text, boolean `true`/`false`,
//!   array/object compact JSON.
//! - `ALLOCATED_<NORM(name)>` for every scalar resource = `value + inputMultiplier * inputMiB`
//!   (input MiB = exact bytes / 1048576), printed with Rust's shortest round-trip float
//!   formatting and always a decimal point (`1.0`, `1024.0`, `1008.0`).
//! - Unknown resource names (other than cpus, mem, sharedMem, disk, gpus) refuse the run
//!   unless [`Policy::allow_unknown_resources`] (then they only produce `ALLOCATED_*`).
//! - `gpus` must be a whole number.
//! - Settings marked `secret` produce [`EnvVar::secret`] = true so callers never log them
//!   (and [`EnvVar`]'s `Debug` hides their value).
//! - Every declared setting and every mount is required (as seed-cli); an empty setting value
//!   is allowed. The host output directory must exist and be empty.

use crate::command::expand_command;
use crate::manifest::{InputFile, Interface, JsonType, MountMode};
use crate::names::normalize;
use crate::Manifest;
use crate::Problem;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What a user asks for: keys as the user typed them.
///
/// Its `Debug` output shows setting names but never their values: which settings are secret
/// is only known from the manifest, so none is printed.
#[derive(Clone, Default)]
pub struct Invocation {
    /// Input file name -> host paths (more than one only for `multiple` inputs; a directory
    /// given for a `multiple` input stands for the regular files directly inside it).
    pub files: BTreeMap<String, Vec<PathBuf>>,
    /// Json input name -> value (already parsed; see [`json_arg`]).
    pub json: BTreeMap<String, Value>,
    /// Setting name -> value.
    pub settings: BTreeMap<String, String>,
    /// Mount name -> host directory.
    pub mounts: BTreeMap<String, PathBuf>,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings: Vec<&String> = self.settings.keys().collect();
        f.debug_struct("Invocation")
            .field("files", &self.files)
            .field("json", &self.json)
            .field("settings (values hidden)", &settings)
            .field("mounts", &self.mounts)
            .finish()
    }
}

/// Where things live inside the container and on the host.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Host directory that becomes `OUTPUT_DIR` (exists, empty, writable).
    pub output_dir_host: PathBuf,
    /// `OUTPUT_DIR` inside the container.
    pub output_dir: String,
    /// Root under which input files are bound inside the container.
    pub inputs_root: String,
}

impl Layout {
    /// The default container paths (`/seed/outputs`, `/seed/inputs`) for a host output dir.
    pub fn new(output_dir_host: PathBuf) -> Self {
        Layout {
            output_dir_host,
            output_dir: "/seed/outputs".to_string(),
            inputs_root: "/seed/inputs".to_string(),
        }
    }
}

/// Knobs of the contract that an operator may change.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Run jobs that declare resources ades does not know, passing them as `ALLOCATED_*` only.
    pub allow_unknown_resources: bool,
}

/// One environment variable of the container.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name (`INPUT_FILE`, `ALLOCATED_MEM`).
    pub name: String,
    /// The value; for a secret setting, never log or persist it ([`fmt::Debug`] hides it).
    pub value: String,
    /// A secret setting: never log or persist the value in clear text.
    pub secret: bool,
}

/// A host path bound into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Absolute, canonical host path (a file or a directory).
    pub host: PathBuf,
    /// Absolute path inside the container.
    pub container: String,
    /// Inputs and `ro` mounts are read-only; `OUTPUT_DIR` and `rw` mounts are writable.
    pub read_only: bool,
}

/// The computed allocation of every declared scalar resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allocation {
    /// CPUs (may be fractional).
    pub cpus: Option<f64>,
    /// MiB.
    pub mem_mib: Option<f64>,
    /// MiB; becomes `/dev/shm` size.
    pub shared_mem_mib: Option<f64>,
    /// MiB of output space (not including the inputs).
    pub disk_mib: Option<f64>,
    /// Whole GPUs.
    pub gpus: Option<u32>,
    /// Every resource in manifest order, with its computed value (name as declared).
    pub all: Vec<(String, f64)>,
}

/// Everything needed to start the container.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    /// The container's whole environment (see [`plan_launch`] for the order).
    pub env: Vec<EnvVar>,
    /// Expanded command; `None` runs the image's own CMD.
    pub args: Option<Vec<String>>,
    /// `OUTPUT_DIR`, the input files, then the mounts.
    pub binds: Vec<Bind>,
    /// What the job gets of each declared resource.
    pub allocation: Allocation,
    /// Total size of the input files, MiB.
    pub input_mib: f64,
}

impl LaunchPlan {
    /// The environment as a map (for command expansion and tests).
    pub fn env_map(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    }
}

/// The resource names ades provides (case-sensitive, as the spec writes them); any other
/// name is unknown (see [`Policy::allow_unknown_resources`]).
pub const KNOWN_RESOURCES: [&str; 5] = ["cpus", "mem", "sharedMem", "disk", "gpus"];

const MIB: f64 = 1024.0 * 1024.0;

/// Checks `invocation` against the manifest and computes the launch plan; every problem is
/// reported at once, each naming the key and what is expected.
///
/// Problems about a given key are located at the declared name when the key matched one
/// (`INPUT_FILE`), at the key as typed when it matched nothing; problems with the job's
/// resources or command are located by JSON pointer (`/job/resources/scalar/0/name`). No
/// message ever contains a setting's value.
///
/// The environment is, in this order: `OUTPUT_DIR`, the input files, the json inputs, the
/// settings (each in manifest order), then `ALLOCATED_*` in manifest order. The binds are
/// `OUTPUT_DIR`, the input files, then the mounts.
///
/// Choice: the host output directory must exist, be a directory and be empty, so that
/// capture only ever sees what this run wrote.
///
/// Choice: a host path given for an input must exist. A regular file (or a symlink to one)
/// is bound at its canonical host path. A directory is only accepted for a `multiple` input,
/// where it stands for the regular files directly inside it, in file-name order;
/// sub-directories and other non-regular entries in it are ignored, not refused. Anything
/// else (a fifo, a socket, a device) is refused. An empty list of paths counts as "not
/// given". A `multiple` input whose paths yield no file at all is refused when required and
/// left unset when optional.
///
/// Choice: a file name that occurs twice within one `multiple` input gets the prefix
/// `<index>-`, where index is its 0-based position among that input's files (the first
/// occurrence keeps its name).
///
/// Choice: every declared setting is required (as seed-cli); an empty value is allowed and
/// sets the variable to the empty string, which a job can tell apart from an unset variable.
/// Values (settings and json strings) may not contain a NUL character, which no process
/// environment can carry.
///
/// Choice: two keys of one kind that name the same item after normalisation
/// (`input-file` and `INPUT_FILE`) are refused rather than one silently winning.
///
/// Choice: a mount whose container path overlaps `OUTPUT_DIR` or the inputs root (equal,
/// inside or above it), or that shares its path with another mount, is refused: the engine
/// would either reject the duplicate or nest one bind inside another's host directory.
///
/// Choice: a command that is empty or only whitespace counts as absent (`args` = `None`).
pub fn plan_launch(
    manifest: &Manifest,
    invocation: &Invocation,
    layout: &Layout,
    policy: &Policy,
) -> Result<LaunchPlan, Vec<Problem>> {
    let interface = manifest.interface();
    let mut draft = Draft::default();
    draft.output_dir(layout);
    let input_bytes = draft.input_files(&interface, invocation, layout);
    draft.json_inputs(&interface, invocation);
    draft.settings(&interface, invocation);
    draft.mounts(&interface, invocation, layout);
    let input_mib = input_bytes as f64 / MIB;
    let allocation = draft.resources(manifest, policy, input_mib);
    let args = draft.command(&interface);

    let Draft {
        env,
        binds,
        problems,
    } = draft;
    if problems.is_empty() {
        Ok(LaunchPlan {
            env,
            args,
            binds,
            allocation,
            input_mib,
        })
    } else {
        Err(problems)
    }
}

/// What [`plan_launch`] builds, one section (method) at a time and in this order: the
/// container's environment and binds so far, and every problem found so far.
#[derive(Default)]
struct Draft {
    env: Vec<EnvVar>,
    binds: Vec<Bind>,
    problems: Vec<Problem>,
}

impl Draft {
    /// `OUTPUT_DIR`: the container paths must be absolute, the host directory must exist
    /// and be empty.
    fn output_dir(&mut self, layout: &Layout) {
        let Draft {
            env,
            binds,
            problems,
        } = self;
        for (what, path) in [
            ("OUTPUT_DIR", &layout.output_dir),
            ("the inputs root", &layout.inputs_root),
        ] {
            if !path.starts_with('/') {
                problems.push(Problem::error(
                    "OUTPUT_DIR",
                    format!("{what} inside the container must be an absolute path, not {path:?}"),
                ));
            }
        }
        match check_output_dir(&layout.output_dir_host) {
            Ok(host) => binds.push(Bind {
                host,
                container: layout.output_dir.clone(),
                read_only: false,
            }),
            Err(message) => problems.push(Problem::error("OUTPUT_DIR", message)),
        }
        env.push(EnvVar::plain("OUTPUT_DIR", layout.output_dir.clone()));
    }

    /// Input files: bound read-only under the inputs root. Returns their total size in
    /// bytes.
    fn input_files(
        &mut self,
        interface: &Interface,
        invocation: &Invocation,
        layout: &Layout,
    ) -> u64 {
        let Draft {
            env,
            binds,
            problems,
        } = self;
        let files_kind = Kind::new("input file", "input files");
        let file_labels: Vec<(String, String)> = interface
            .inputs
            .files
            .iter()
            .map(|f| {
                let mut notes = Vec::new();
                if f.multiple {
                    notes.push("multiple");
                }
                if !f.required {
                    notes.push("optional");
                }
                (f.name.clone(), label(&f.name, &notes))
            })
            .collect();
        let given_files = match_keys(&invocation.files, &file_labels, &files_kind, true, problems);
        let inputs_root = layout.inputs_root.trim_end_matches('/');
        let mut input_bytes: u64 = 0;
        for (input, given) in interface.inputs.files.iter().zip(given_files) {
            let var = normalize(&input.name);
            let Some(paths) = given.map(|(_, paths)| paths).filter(|p| !p.is_empty()) else {
                if input.required {
                    problems.push(Problem::error(
                        &input.name,
                        format!(
                            "the required {} {} was not given; {}",
                            files_kind.singular,
                            input.name,
                            files_kind.expected(&file_labels)
                        ),
                    ));
                }
                continue;
            };
            let before = problems.len();
            if !input.multiple && paths.len() > 1 {
                problems.push(Problem::error(
                    &input.name,
                    format!(
                        "{} takes a single file (it is not `multiple`), but {} were given: {}",
                        input.name,
                        paths.len(),
                        join_paths(paths)
                    ),
                ));
            }
            let files = resolve_input_files(input, paths, problems);
            if problems.len() > before {
                continue;
            }
            if files.is_empty() {
                // Only a `multiple` input can get here: its directories hold no regular file.
                if input.required {
                    problems.push(Problem::error(
                        &input.name,
                        format!(
                            "the directories given for {} contain no regular file; it needs at \
                             least one file: {}",
                            input.name,
                            join_paths(paths)
                        ),
                    ));
                }
                continue;
            }
            input_bytes += files.iter().map(|f| f.size).sum::<u64>();
            let input_dir = format!("{inputs_root}/{var}");
            if input.multiple {
                let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
                for (file, name) in files.into_iter().zip(unique_names(&names)) {
                    binds.push(Bind {
                        host: file.host,
                        container: format!("{input_dir}/{name}"),
                        read_only: true,
                    });
                }
                env.push(EnvVar::plain(var, input_dir));
            } else if let Some(file) = files.into_iter().next() {
                let container = format!("{input_dir}/{}", file.name);
                binds.push(Bind {
                    host: file.host,
                    container: container.clone(),
                    read_only: true,
                });
                env.push(EnvVar::plain(var, container));
            }
        }
        input_bytes
    }

    /// Json inputs: type-checked and injected as text.
    fn json_inputs(&mut self, interface: &Interface, invocation: &Invocation) {
        let Draft { env, problems, .. } = self;
        let json_kind = Kind::new("json input", "json inputs");
        let json_labels: Vec<(String, String)> = interface
            .inputs
            .json
            .iter()
            .map(|j| {
                let mut notes = vec![j.kind.as_str()];
                if !j.required {
                    notes.push("optional");
                }
                (j.name.clone(), label(&j.name, &notes))
            })
            .collect();
        let given_json = match_keys(&invocation.json, &json_labels, &json_kind, true, problems);
        for (input, given) in interface.inputs.json.iter().zip(given_json) {
            let Some((_, value)) = given else {
                if input.required {
                    problems.push(Problem::error(
                        &input.name,
                        format!(
                            "the required {} {} was not given; {}",
                            json_kind.singular,
                            input.name,
                            json_kind.expected(&json_labels)
                        ),
                    ));
                }
                continue;
            };
            if !input.kind.accepts(value) {
                problems.push(Problem::error(
                    &input.name,
                    format!(
                        "{} expects {}, got {}",
                        input.name,
                        type_with_article(input.kind),
                        describe_value(value)
                    ),
                ));
                continue;
            }
            let text = injected_text(value);
            if text.contains('\0') {
                problems.push(Problem::error(
                    &input.name,
                    format!("the value of {} contains a NUL character, which an environment variable cannot hold", input.name),
                ));
                continue;
            }
            env.push(EnvVar::plain(normalize(&input.name), text));
        }
    }

    /// Settings: every one required; secret ones marked so.
    fn settings(&mut self, interface: &Interface, invocation: &Invocation) {
        let Draft { env, problems, .. } = self;
        let settings_kind = Kind::new("setting", "settings");
        let setting_labels: Vec<(String, String)> = interface
            .settings
            .iter()
            .map(|s| (s.name.clone(), s.name.clone()))
            .collect();
        let given_settings = match_keys(
            &invocation.settings,
            &setting_labels,
            &settings_kind,
            true,
            problems,
        );
        for (setting, given) in interface.settings.iter().zip(given_settings) {
            let Some((_, value)) = given else {
                problems.push(Problem::error(
                    &setting.name,
                    format!(
                        "the setting {} was not given (every setting is required); {}",
                        setting.name,
                        settings_kind.expected(&setting_labels)
                    ),
                ));
                continue;
            };
            if value.contains('\0') {
                problems.push(Problem::error(
                    &setting.name,
                    format!("the value of the setting {} contains a NUL character, which an environment variable cannot hold", setting.name),
                ));
                continue;
            }
            env.push(EnvVar {
                name: normalize(&setting.name),
                value: value.clone(),
                secret: setting.secret,
            });
        }
    }

    /// Mounts: every one required, a host directory each, at a path of its own.
    fn mounts(&mut self, interface: &Interface, invocation: &Invocation, layout: &Layout) {
        let Draft {
            binds, problems, ..
        } = self;
        let mounts_kind = Kind::new("mount", "mounts");
        let mount_labels: Vec<(String, String)> = interface
            .mounts
            .iter()
            .map(|m| (m.name.clone(), m.name.clone()))
            .collect();
        let given_mounts = match_keys(
            &invocation.mounts,
            &mount_labels,
            &mounts_kind,
            false,
            problems,
        );
        for (index, (mount, given)) in interface.mounts.iter().zip(given_mounts).enumerate() {
            for (what, reserved) in [
                ("OUTPUT_DIR", layout.output_dir.as_str()),
                ("the input files", layout.inputs_root.as_str()),
            ] {
                if overlaps(&mount.path, reserved) {
                    problems.push(Problem::error(
                        &mount.name,
                        format!(
                            "the mount {} is declared at {}, which overlaps {reserved}, where ades \
                             puts {what}; declare it at another path",
                            mount.name, mount.path
                        ),
                    ));
                }
            }
            if let Some(other) = interface.mounts[..index]
                .iter()
                .find(|m| same_container_path(&m.path, &mount.path))
            {
                problems.push(Problem::error(
                    &mount.name,
                    format!(
                        "the mounts {} and {} are both declared at {}; each mount needs its own path",
                        other.name, mount.name, mount.path
                    ),
                ));
            }
            let Some((_, host)) = given else {
                problems.push(Problem::error(
                    &mount.name,
                    format!(
                        "the mount {} was not given (every mount is required); {}",
                        mount.name,
                        mounts_kind.expected(&mount_labels)
                    ),
                ));
                continue;
            };
            match std::fs::metadata(host) {
                Ok(meta) if meta.is_dir() => match canonical(host) {
                    Ok(host) => binds.push(Bind {
                        host,
                        container: mount.path.clone(),
                        read_only: mount.mode == MountMode::Ro,
                    }),
                    Err(e) => problems.push(Problem::error(
                        &mount.name,
                        format!(
                            "the host directory {} given for the mount {} cannot be resolved: {e}",
                            host.display(),
                            mount.name
                        ),
                    )),
                },
                Ok(_) => problems.push(Problem::error(
                    &mount.name,
                    format!(
                        "{} given for the mount {} is not a directory; a mount needs a host directory",
                        host.display(),
                        mount.name
                    ),
                )),
                Err(e) => problems.push(Problem::error(
                    &mount.name,
                    format!(
                        "the host directory {} given for the mount {} {}",
                        host.display(),
                        mount.name,
                        io_failure(&e)
                    ),
                )),
            }
        }
    }

    /// Resources: each scalar resource's allocation, and its `ALLOCATED_*` variable.
    fn resources(&mut self, manifest: &Manifest, policy: &Policy, input_mib: f64) -> Allocation {
        let Draft { env, problems, .. } = self;
        let mut allocation = Allocation::default();
        for (index, resource) in manifest.scalar_resources().iter().enumerate() {
            let amount = resource.value + resource.input_multiplier.unwrap_or(0.0) * input_mib;
            match resource.name.as_str() {
                "cpus" => allocation.cpus = Some(amount),
                "mem" => allocation.mem_mib = Some(amount),
                "sharedMem" => allocation.shared_mem_mib = Some(amount),
                "disk" => allocation.disk_mib = Some(amount),
                "gpus" => {
                    if amount >= 0.0 && amount.fract() == 0.0 && amount <= f64::from(u32::MAX) {
                        allocation.gpus = Some(amount as u32);
                    } else {
                        problems.push(Problem::error(
                            format!("/job/resources/scalar/{index}/value"),
                            format!(
                                "gpus must come to a whole number of GPUs, but the job asks for {}",
                                format_allocation(amount)
                            ),
                        ));
                    }
                }
                other if !policy.allow_unknown_resources => problems.push(Problem::error(
                    format!("/job/resources/scalar/{index}/name"),
                    format!(
                        "the job needs the resource {other:?}, which ades does not know (it knows {}; \
                         names are case-sensitive); an operator may allow unknown resources, which \
                         are then only passed to the job as ALLOCATED_{}",
                        KNOWN_RESOURCES.join(", "),
                        normalize(other)
                    ),
                )),
                _ => {}
            }
            allocation.all.push((resource.name.clone(), amount));
            env.push(EnvVar::plain(
                format!("ALLOCATED_{}", normalize(&resource.name)),
                format_allocation(amount),
            ));
        }
        allocation
    }

    /// The command, expanded with exactly the environment the container gets.
    fn command(&mut self, interface: &Interface) -> Option<Vec<String>> {
        let Draft { env, problems, .. } = self;
        let env_map: BTreeMap<String, String> = env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect();
        let args = match interface
            .command
            .as_deref()
            .filter(|c| !c.trim().is_empty())
        {
            None => None,
            Some(command) => match expand_command(command, &env_map) {
                Ok(args) => Some(args),
                Err(e) => {
                    problems.push(Problem::error("/job/interface/command", e.to_string()));
                    None
                }
            },
        };
        args
    }
}

/// Turns the text a user typed for a json input (`-j NAME=TEXT`) into a value: for a
/// `string` input the text itself; otherwise the text parsed as JSON. Type checking happens
/// in [`plan_launch`].
///
/// Choice: the name is matched after normalisation, like [`plan_launch`]. Text that does not
/// parse as JSON is kept as a JSON string, so that [`plan_launch`] reports
/// "INPUT expects an integer, got the string \"abc\"" instead of a parse error here. For a
/// name the manifest does not declare, the text is parsed as JSON when it can be, else kept
/// as a string ([`plan_launch`] then reports the unknown key).
pub fn json_arg(manifest: &Manifest, name: &str, text: &str) -> Value {
    let wanted = normalize(name);
    let kind = manifest
        .interface()
        .inputs
        .json
        .iter()
        .find(|j| normalize(&j.name) == wanted)
        .map(|j| j.kind);
    match kind {
        Some(JsonType::String) => Value::String(text.to_string()),
        _ => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// Formats a resource amount for `ALLOCATED_*` (`1.0`, `1024.0`, `0.5`).
///
/// Choice: Rust's shortest round-trip decimal form (never an exponent), with `.0` appended
/// when it has no decimal point, so every value reads as a number in any language
/// (`1008.0`, `0.25`, `1000000000000000000000.0`).
pub fn format_allocation(value: f64) -> String {
    let text = value.to_string();
    if value.is_finite() && !text.contains('.') {
        format!("{text}.0")
    } else {
        text
    }
}

impl EnvVar {
    fn plain(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }
}

impl fmt::Debug for EnvVar {
    /// Choice: a secret value is shown as `*****`, so a logged plan never reveals it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.secret { &"*****" } else { &self.value };
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", value)
            .field("secret", &self.secret)
            .finish()
    }
}

/// How one kind of invocation key is named in messages.
struct Kind {
    singular: &'static str,
    plural: &'static str,
}

impl Kind {
    fn new(singular: &'static str, plural: &'static str) -> Self {
        Kind { singular, plural }
    }

    /// "the following input file keys are expected: A, B (optional)".
    fn expected(&self, labels: &[(String, String)]) -> String {
        if labels.is_empty() {
            format!("this job takes no {}", self.plural)
        } else {
            let labels: Vec<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
            format!(
                "the following {} keys are expected: {}",
                self.singular,
                labels.join(", ")
            )
        }
    }
}

fn label(name: &str, notes: &[&str]) -> String {
    if notes.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", notes.join(", "))
    }
}

/// Pairs each declared item (by position) with the key and value the user gave for it,
/// reporting keys that match nothing and items given under two keys.
fn match_keys<'a, V>(
    given: &'a BTreeMap<String, V>,
    declared: &[(String, String)],
    kind: &Kind,
    normalised: bool,
    problems: &mut Vec<Problem>,
) -> Vec<Option<(&'a str, &'a V)>> {
    let mut matched: Vec<Option<(&'a str, &'a V)>> = vec![None; declared.len()];
    let wanted: Vec<String> = declared
        .iter()
        .map(|(name, _)| {
            if normalised {
                normalize(name)
            } else {
                name.clone()
            }
        })
        .collect();
    for (key, value) in given {
        let probe = if normalised {
            normalize(key)
        } else {
            key.clone()
        };
        let Some(index) = wanted.iter().position(|w| *w == probe) else {
            let how = if normalised {
                ""
            } else {
                " (mount names are matched exactly)"
            };
            problems.push(Problem::error(
                key,
                format!(
                    "{key:?} matches no {} of this job{how}; {}",
                    kind.singular,
                    kind.expected(declared)
                ),
            ));
            continue;
        };
        match matched[index] {
            Some((first, _)) => problems.push(Problem::error(
                key,
                format!(
                    "{first:?} and {key:?} both name the {} {}; give it once",
                    kind.singular, declared[index].0
                ),
            )),
            None => matched[index] = Some((key.as_str(), value)),
        }
    }
    matched
}

/// An input file as it will be bound.
struct InputFileOnHost {
    /// Canonical host path.
    host: PathBuf,
    /// File name inside the container.
    name: String,
    size: u64,
}

fn resolve_input_files(
    input: &InputFile,
    paths: &[PathBuf],
    problems: &mut Vec<Problem>,
) -> Vec<InputFileOnHost> {
    let mut files = Vec::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                problems.push(Problem::error(
                    &input.name,
                    format!(
                        "the file {} given for {} {}",
                        path.display(),
                        input.name,
                        io_failure(&e)
                    ),
                ));
                continue;
            }
        };
        if meta.is_file() {
            match regular_file(path, meta.len()) {
                Ok(file) => files.push(file),
                Err(e) => problems.push(Problem::error(
                    &input.name,
                    format!(
                        "the file {} given for {} cannot be resolved: {e}",
                        path.display(),
                        input.name
                    ),
                )),
            }
        } else if meta.is_dir() && input.multiple {
            match files_in_directory(path) {
                Ok(found) => files.extend(found),
                Err(e) => problems.push(Problem::error(
                    &input.name,
                    format!(
                        "the directory {} given for {} cannot be read: {e}",
                        path.display(),
                        input.name
                    ),
                )),
            }
        } else if meta.is_dir() {
            problems.push(Problem::error(
                &input.name,
                format!(
                    "{} is a directory, but {} takes a single regular file (it is not \
                     `multiple`)",
                    path.display(),
                    input.name
                ),
            ));
        } else {
            problems.push(Problem::error(
                &input.name,
                format!(
                    "{} given for {} is not a regular file",
                    path.display(),
                    input.name
                ),
            ));
        }
    }
    files
}

fn regular_file(path: &Path, size: u64) -> std::io::Result<InputFileOnHost> {
    let host = canonical(path)?;
    let name = path
        .file_name()
        .or_else(|| host.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".to_string());
    Ok(InputFileOnHost { host, name, size })
}

/// The regular files (or symlinks to regular files) directly inside `dir`, by file name.
fn files_in_directory(dir: &Path) -> std::io::Result<Vec<InputFileOnHost>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        match std::fs::metadata(&entry) {
            Ok(meta) if meta.is_file() => files.push(regular_file(&entry, meta.len())?),
            // Sub-directories, dangling symlinks and special files are not part of the input.
            _ => {}
        }
    }
    Ok(files)
}

/// Names unique within one directory: a repeated name gets the prefix `<index>-`.
fn unique_names(names: &[String]) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    let mut unique = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let mut candidate = name.clone();
        let mut attempt = 0;
        while used.contains(&candidate) {
            candidate = if attempt == 0 {
                format!("{index}-{name}")
            } else {
                format!("{index}-{attempt}-{name}")
            };
            attempt += 1;
        }
        used.insert(candidate.clone());
        unique.push(candidate);
    }
    unique
}

fn check_output_dir(host: &Path) -> Result<PathBuf, String> {
    let shown = host.display();
    let meta = std::fs::metadata(host)
        .map_err(|e| format!("the output directory {shown} {}", io_failure(&e)))?;
    if !meta.is_dir() {
        return Err(format!("the output directory {shown} is not a directory"));
    }
    let mut entries = std::fs::read_dir(host)
        .map_err(|e| format!("the output directory {shown} cannot be read: {e}"))?;
    if entries.next().is_some() {
        return Err(format!(
            "the output directory {shown} is not empty; a run needs an empty directory so that \
             only its own files are captured"
        ));
    }
    canonical(host).map_err(|e| format!("the output directory {shown} cannot be resolved: {e}"))
}

/// The canonical form of a host path, which must be UTF-8: the container engine's API
/// carries paths as JSON strings.
fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    let host = path.canonicalize()?;
    if host.to_str().is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "its path is not UTF-8, which the container engine cannot take",
        ));
    }
    Ok(host)
}

fn io_failure(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "does not exist".to_string()
    } else {
        format!("cannot be read: {e}")
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn container_components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

fn same_container_path(a: &str, b: &str) -> bool {
    container_components(a) == container_components(b)
}

/// Whether one container path is the other or lies inside it.
fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (container_components(a), container_components(b));
    let common = a.len().min(b.len());
    a[..common] == b[..common]
}

fn injected_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        // serde_json's Display is compact JSON.
        other => other.to_string(),
    }
}

/// `an integer`, `a string`, ... for messages.
pub(crate) fn type_with_article(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// A short description of a JSON value for messages (`the string "abc"`, `an object`).
pub(crate) fn describe_value(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > MAX_CHARS => {
            let head: String = s.chars().take(MAX_CHARS).collect();
            format!("the string {}…", Value::String(head))
        }
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}
