//! The command-line front end: `ades seed validate|init|build|list|search|publish|batch` and
//! `ades run`,
//! shaped like NGA's `seed` tool, `ades jobs list|show|cancel|requeue` for operators, with
//! `--json` output for scripts.
//!
//! Exit status: 0 success; 1 an error (invalid manifest, engine unreachable, outputs missing
//! after a clean exit, ...); 2 a bad command line or invocation (nothing was started); for
//! `ades run`, the job's own exit code when its container exited non-zero, 124 when it was
//! killed at its timeout, 130 when it was interrupted.

mod batch_cmd;
mod cwl_cmd;
mod ingest_cmd;
mod jobs_cmd;
mod keys_cmd;
mod print;
mod publish_cmd;
mod run_cmd;
mod seed_cmd;
mod serve_cmd;
mod workspaces_cmd;

use crate::config::{ConfigError, Overrides, Settings};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "ades",
    version,
    about = "Run and serve Seed images as OGC processes"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve OGC API - Processes for every Seed image in the local Docker engine, with a
    /// durable job store (SQLite in the data directory by default) and workers.
    Serve(ServeArgs),
    /// Run jobs only, no HTTP: claim jobs from the shared database (PostgreSQL) and run them
    /// on this host's Docker engine. Pair with `ades serve --no-workers` replicas.
    Worker(WorkerArgs),
    /// Print the effective configuration (defaults < file < ADES__* environment < flags),
    /// secrets hidden.
    Config(ConfigArgs),
    /// Work with Seed manifests and images (validate, init, build, list, search, publish,
    /// batch).
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Run a Seed image once, like `seed run`: check the inputs against its manifest, run the
    /// container, capture and print its outputs, exit with its exit code.
    Run(RunArgs),
    /// Operate on the jobs in the job store (the database the servers share): list, show,
    /// cancel and requeue them, one by one or in bulk by filters.
    Jobs(JobsArgs),
    /// API keys for scripts (authentication on): create one (printed once), list them,
    /// revoke one.
    Keys(KeysArgs),
    /// Who deployed, replaced, undeployed, submitted and dismissed what, newest first.
    Audit(AuditArgs),
    /// Named workspaces (host directories, S3 buckets): list, show, create from a file of
    /// Scale's v6 workspace JSON. Works on the database the servers share; secrets are
    /// never printed.
    Workspaces(WorkspacesArgs),
    /// Strikes (watch a workspace, ingest each new file, start its process): list, show,
    /// create from a file of Scale's v6 strike JSON, start, stop.
    Strikes(StrikesArgs),
    /// The ingests strikes and scans recorded: list (filtered), show.
    Ingests(IngestsArgs),
    /// Scans (a strike's rules over the files already in a workspace): list, show, create
    /// from a file of Scale's v6 scan JSON.
    Scans(ScansArgs),
    /// Common Workflow Language tools: run one in a container (`ades cwl run TOOL [JOB]`).
    #[command(subcommand)]
    Cwl(CwlCommand),
}

#[derive(Debug, Args)]
struct WorkspacesArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: WorkspacesCommand,
}

#[derive(Debug, Subcommand)]
enum WorkspacesCommand {
    /// The workspaces of the configuration file and of the job store.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One workspace's definition, secrets hidden.
    Show {
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create a workspace from FILE (Scale's v6 workspace JSON; `-` reads standard input).
    Create {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct StrikesArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: StrikesCommand,
}

#[derive(Debug, Subcommand)]
enum StrikesCommand {
    /// Every strike, its state and the replica watching it.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One strike's definition and state.
    Show {
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create a strike from FILE (Scale's v6 strike JSON; `-` reads standard input); it
    /// runs at once.
    Create {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start a stopped strike.
    Start { name: String },
    /// Stop a strike (files arriving meanwhile are ingested once it starts again).
    Stop { name: String },
}

#[derive(Debug, Args)]
struct IngestsArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: IngestsCommand,
}

#[derive(Debug, Subcommand)]
enum IngestsCommand {
    /// Ingests, newest first.
    List {
        /// Only this strike's.
        #[arg(long)]
        strike: Option<String>,
        /// Only this scan's.
        #[arg(long)]
        scan: Option<String>,
        /// Only these statuses (repeat, or separate with commas).
        #[arg(long, value_delimiter = ',')]
        status: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One ingest.
    Show {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ScansArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: ScansCommand,
}

#[derive(Debug, Subcommand)]
enum ScansCommand {
    /// Every scan and what its last run did.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One scan's definition and last run.
    Show {
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create a scan from FILE (Scale's v6 scan JSON; `-` reads standard input); run it
    /// with `POST /scans/{name}/process`.
    Create {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CwlCommand {
    /// Run a CWL CommandLineTool once and print its output object as JSON (a runner for
    /// cwltest: exit 33 for what ades does not support).
    Run(cwl_cmd::CwlRunArgs),
}

#[derive(Debug, Args)]
struct KeysArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a key acting as USER with the given roles; the key is printed once (only its
    /// hash is stored).
    Create {
        /// The user the key acts as (its jobs are this user's).
        #[arg(long)]
        user: String,
        /// A role: admin, user or reader (repeatable).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// What the key is for.
        #[arg(long, default_value = "")]
        name: String,
        /// Print JSON (with the key) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the keys (never the keys themselves).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests with it get 401 from then on.
    Revoke {
        /// The key's id (ades keys list).
        id: String,
    },
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[command(flatten)]
    store: SettingsArgs,
    /// Entries to show, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    bind: Option<String>,
    /// Number of jobs run at once by this process.
    #[arg(long)]
    workers: Option<usize>,
    /// Serve the API only; run no jobs here.
    #[arg(long, conflicts_with = "workers")]
    no_workers: bool,
    /// Publish this image as a process too (repeatable), even without the -seed naming.
    #[arg(long = "image", value_name = "IMAGE")]
    images: Vec<String>,
    /// Bearer token that deploy, replace and undeploy require (also ADES__AUTH__ADMIN_TOKEN);
    /// without one those operations are refused. Visible in the process list: prefer
    /// --admin-token-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "admin_token_file")]
    admin_token: Option<String>,
    /// A file holding the admin token (also auth.admin_token_file).
    #[arg(long, value_name = "PATH")]
    admin_token_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct WorkerArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Number of jobs run at once by this worker (at least 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Offer this image's process too (repeatable), even without the -seed naming.
    #[arg(long = "image", value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum SeedCommand {
    /// Validate a manifest (a directory holding seed.manifest.json, a manifest file, or a
    /// local image's label) against the Seed 1.0.0 schema and rules; list every problem.
    Validate(ValidateArgs),
    /// Write a starter seed.manifest.json into a directory (never overwrites one).
    Init(InitArgs),
    /// Validate DIR/seed.manifest.json, build DIR/Dockerfile and tag the image
    /// `<name>-<jobVersion>-seed:<packageVersion>` with the manifest label.
    Build(BuildArgs),
    /// List the Seed images in the local Docker engine.
    List(ListArgs),
    /// Find the Seed images in an OCI registry: every tag of every repository (under ORG
    /// when given) whose image carries a valid Seed manifest label. No layer is pulled.
    Search(SearchArgs),
    /// Push a local Seed image to a registry as [ORG/]<name>-<jobVersion>-seed:<packageVersion>;
    /// an existing tag is refused unless --force or a version bump is given.
    Publish(PublishArgs),
    /// Run a Seed image once per file of a directory (`ades run` for each), each file bound
    /// to one file input, the outputs in OUTDIR/<file name>/; a summary at the end.
    Batch(BatchArgs),
    /// Write the CWL CommandLineTool equivalent to a local Seed image's manifest (YAML on
    /// standard output, or JSON with --json), so other ADES and EMS can run the image.
    ToCwl(ToCwlArgs),
}

#[derive(Debug, Args)]
struct ToCwlArgs {
    /// The local Seed image (its manifest is read from its label; the tool runs it).
    image: String,
    /// Write JSON instead of YAML.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PublishArgs {
    /// The local Seed image to publish (its manifest is read from its label).
    image: String,
    /// The registry, as host[:port] (e.g. 127.0.0.1:5000); loopback registries are spoken to
    /// over plain HTTP, others over HTTPS unless written http://host[:port].
    #[arg(short = 'r', long)]
    registry: String,
    /// Publish under this organisation (REGISTRY/ORG/...).
    #[arg(short = 'O', long)]
    org: Option<String>,
    /// Push even when the tag exists in the registry (replacing it); the registry is not asked.
    #[arg(short = 'f', long, conflicts_with_all = ["major", "minor", "patch", "job_major", "job_minor", "job_patch"])]
    force: bool,
    #[command(flatten)]
    package: PackageVersionArgs,
    #[command(flatten)]
    job: JobVersionArgs,
    /// Log in as this user (instead of the configuration's credentials); the password comes
    /// from stdin (--password-stdin) or from ADES_REGISTRY_PASSWORD.
    #[arg(long, short = 'u', env = "ADES_REGISTRY_USERNAME")]
    username: Option<String>,
    /// Read the password from the first line of stdin.
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Print a JSON report instead of text (push progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// The configuration, for its `[registries] credentials` (to check and push).
    #[command(flatten)]
    config: ConfigFileArgs,
}

/// How `ades seed publish` changes the package version (`-pM`, `-pm`, `-pp` are read as
/// `--pM`, `--pm`, `--pp`, as seed-cli spells them).
#[derive(Debug, Args)]
#[group(multiple = false)]
struct PackageVersionArgs {
    /// `-P=X.Y.Z`: publish as package version X.Y.Z; `-P` alone: bump the major part when
    /// the tag exists (as seed-cli's -P).
    #[arg(short = 'P', long = "package-version", value_name = "X.Y.Z", num_args = 0..=1,
          require_equals = true, default_missing_value = publish_cmd::MAJOR)]
    package_version: Option<String>,
    /// When the tag exists, bump the package version's major part (X+1.0.0).
    #[arg(long = "pM")]
    major: bool,
    /// When the tag exists, bump the package version's minor part (X.Y+1.0).
    #[arg(long = "pm")]
    minor: bool,
    /// When the tag exists, bump the package version's patch part (X.Y.Z+1).
    #[arg(long = "pp")]
    patch: bool,
}

/// How `ades seed publish` changes the job version (`-jM`, `-jm`, `-jp`).
#[derive(Debug, Args)]
#[group(multiple = false)]
struct JobVersionArgs {
    /// `-J=X.Y.Z`: publish as job version X.Y.Z; `-J` alone: bump the major part when the
    /// tag exists (as seed-cli's -J).
    #[arg(short = 'J', long = "job-version", value_name = "X.Y.Z", num_args = 0..=1,
          require_equals = true, default_missing_value = publish_cmd::MAJOR)]
    job_version: Option<String>,
    /// When the tag exists, bump the job version's major part.
    #[arg(long = "jM", id = "job_major")]
    major: bool,
    /// When the tag exists, bump the job version's minor part.
    #[arg(long = "jm", id = "job_minor")]
    minor: bool,
    /// When the tag exists, bump the job version's patch part.
    #[arg(long = "jp", id = "job_patch")]
    patch: bool,
}

#[derive(Debug, Args)]
struct BatchArgs {
    /// The Seed image to run (its manifest is read from its label).
    image: String,
    /// The directory whose files are processed, one run per regular file (sorted by name).
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    dir: PathBuf,
    /// Directory for the outputs: each run writes to OUTDIR/<file name>/ [default:
    /// ./batch-<job>-<time>].
    #[arg(short = 'o', long = "output", value_name = "OUTDIR")]
    output: Option<PathBuf>,
    /// `-i NAME`: bind the files to this file input (default: the only required one, else
    /// the first); `-i NAME=PATH`: give another input the same file in every run.
    #[arg(short = 'i', long = "input", value_name = "NAME[=PATH]")]
    inputs: Vec<String>,
    /// A json input for every run: NAME=value (`NAME=@file` reads it from a file).
    #[arg(short = 'j', long = "json-input", value_name = "NAME=VALUE")]
    json_inputs: Vec<String>,
    /// A setting for every run: NAME=value.
    #[arg(short = 'e', long = "setting", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// A mount for every run: NAME=host directory.
    #[arg(short = 'm', long = "mount", value_name = "NAME=DIR")]
    mounts: Vec<String>,
    #[command(flatten)]
    container: ContainerArgs,
    /// Print a JSON summary on stdout; the containers' output goes to stderr.
    #[arg(long)]
    json: bool,
    /// The configuration, for its `[registries] credentials` (to pull an absent image).
    #[command(flatten)]
    config: ConfigFileArgs,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// A directory with seed.manifest.json, a manifest file, or an image reference.
    #[arg(default_value = ".")]
    target: String,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Directory to write seed.manifest.json into (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Directory holding seed.manifest.json and the Dockerfile (the build context).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Dockerfile to use, relative to DIR.
    #[arg(long, short = 'D', default_value = "Dockerfile")]
    dockerfile: String,
    /// Manifest to use instead of DIR/seed.manifest.json.
    #[arg(long, short = 'M')]
    manifest: Option<PathBuf>,
    /// Print a JSON report instead of text (build output goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// The registry, as host[:port] (e.g. 127.0.0.1:5000); loopback registries are spoken to
    /// over plain HTTP, others over HTTPS unless written http://host[:port].
    registry: String,
    /// Only repositories under this organisation (ORG/...).
    #[arg(long)]
    org: Option<String>,
    /// Only images whose reference, job name, title, description or tags contain TEXT
    /// (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Log in as this user; the password comes from stdin (--password-stdin) or from
    /// ADES_REGISTRY_PASSWORD.
    #[arg(long, short = 'u', env = "ADES_REGISTRY_USERNAME")]
    username: Option<String>,
    /// Read the password from the first line of stdin.
    #[arg(long, requires = "username")]
    password_stdin: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The Seed image to run (its manifest is read from its label).
    image: String,
    /// An input file: NAME=path. Repeat the flag for several files of a `multiple` input; a
    /// directory given to a `multiple` input stands for the files in it.
    #[arg(short = 'i', long = "input", value_name = "NAME=PATH")]
    inputs: Vec<String>,
    /// A json input: NAME=value. Text for `string` inputs, JSON otherwise; `NAME=@file` reads
    /// the value from a file.
    #[arg(short = 'j', long = "json-input", value_name = "NAME=VALUE")]
    json_inputs: Vec<String>,
    /// A setting: NAME=value.
    #[arg(short = 'e', long = "setting", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// A mount: NAME=host directory.
    #[arg(short = 'm', long = "mount", value_name = "NAME=DIR")]
    mounts: Vec<String>,
    /// Directory for the outputs (becomes OUTPUT_DIR; created, must be empty). Default:
    /// ./output-<job>-<time>.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    #[command(flatten)]
    container: ContainerArgs,
    /// Print a JSON report on stdout; the container's output then goes to stderr.
    #[arg(long)]
    json: bool,
    /// The configuration, for its `[registries] credentials` (to pull absent images).
    #[command(flatten)]
    config: ConfigFileArgs,
}

/// How `ades run` and `ades seed batch` set up the container.
#[derive(Debug, Args)]
struct ContainerArgs {
    /// Run jobs that declare resources ades does not know (passed as ALLOCATED_* only).
    #[arg(long)]
    allow_unknown_resources: bool,
    /// Docker network to attach the container to (default: no network).
    #[arg(long)]
    network: Option<String>,
    /// uid:gid to run as [default: 10001:10001 when run as root, else your own uid and gid].
    #[arg(long)]
    user: Option<String>,
    /// Run the container as root (uid 0, still without capabilities): for images that need it.
    #[arg(long, conflicts_with = "user")]
    run_as_root: bool,
    /// Keep the image's filesystem writable (no read-only root, no /tmp tmpfs).
    #[arg(long)]
    writable_root: bool,
    /// Most processes (threads included) the container may have [default: 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    pids_limit: Option<i64>,
}

#[derive(Debug, Args)]
struct JobsArgs {
    #[command(flatten)]
    store: SettingsArgs,
    #[command(subcommand)]
    command: JobsCommand,
}

/// Which configuration file the layered configuration starts from, for every command that
/// reads the configuration (`serve`, `worker`, `config`, `jobs` through [`SettingsArgs`];
/// `run` for its registry credentials). Global, so `ades jobs` takes it after its
/// subcommand too.
#[derive(Debug, Args)]
struct ConfigFileArgs {
    /// A TOML configuration file (see config/ades.example.toml).
    #[arg(long, short = 'c', env = "ADES_CONFIG", global = true)]
    config: Option<PathBuf>,
}

impl ConfigFileArgs {
    /// Loads the settings: `overrides` override the file and environment.
    fn load(&self, overrides: Overrides) -> Result<Settings, ConfigError> {
        Settings::load(self.config.as_deref(), &overrides)
    }
}

/// Where the layered configuration and the job store come from, for every command that
/// reads them (`serve`, `worker`, `config`, `jobs`). Global, so `ades jobs` takes them after
/// its subcommand too.
#[derive(Debug, Args)]
struct SettingsArgs {
    #[command(flatten)]
    config: ConfigFileArgs,
    /// Directory for the database (SQLite) and job workspaces [default: ./ades-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL [default: sqlite://<data dir>/ades.db]; replicas share one
    /// (postgres://...).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

impl SettingsArgs {
    /// Loads the settings: these flags and `more` override the file and environment.
    fn load(&self, more: Overrides) -> Result<Settings, ConfigError> {
        self.config.load(Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..more
        })
    }
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// List jobs, newest first: id, process, status, created, attempt, message.
    List(JobsListArgs),
    /// Show one job (status, times, attempt, message, failure, results) and its events.
    Show(JobsShowArgs),
    /// Cancel jobs (OGC dismiss): by id, or every accepted or running job matching the
    /// filters (with --yes). A running job's container is stopped at its worker's next
    /// heartbeat; a finished job named by id is withdrawn.
    Cancel(JobsActionArgs),
    /// Put failed or dismissed jobs back in the queue (attempts and results cleared): by
    /// id, or every failed or dismissed job matching the filters (with --yes).
    Requeue(JobsActionArgs),
}

/// Which jobs: the filters of `ades jobs list|cancel|requeue`.
#[derive(Debug, Args)]
struct JobFilterArgs {
    /// Only jobs with this status (repeatable): accepted, running, successful, failed,
    /// dismissed.
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    /// Only jobs of this process (repeatable).
    #[arg(long = "process", value_name = "ID")]
    processes: Vec<String>,
    /// Only jobs created at or after this time (RFC 3339, e.g. 2024-05-01T00:00:00Z).
    #[arg(long, value_name = "RFC3339")]
    created_after: Option<String>,
    /// Only jobs created at or before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    created_before: Option<String>,
}

#[derive(Debug, Args)]
struct JobsListArgs {
    #[command(flatten)]
    filter: JobFilterArgs,
    /// Show at most this many jobs.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct JobsShowArgs {
    /// The job id (a UUID).
    id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct JobsActionArgs {
    /// The jobs, by id; or give filters instead to act on every matching job.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    #[command(flatten)]
    filter: JobFilterArgs,
    /// Act on every job the filters match (without it a filter run only counts them).
    #[arg(long, short = 'y')]
    yes: bool,
}

/// Entry point of the `ades` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(seed_cli_spellings(std::env::args_os()));
    // The server sets up its own logging from its configuration.
    if !matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        init_tracing();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            print::error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Seed(SeedCommand::Validate(args)) => seed_cmd::validate(args).await,
            Command::Seed(SeedCommand::Init(args)) => seed_cmd::init(args),
            Command::Seed(SeedCommand::Build(args)) => seed_cmd::build(args).await,
            Command::Seed(SeedCommand::List(args)) => seed_cmd::list(args).await,
            Command::Seed(SeedCommand::Search(args)) => seed_cmd::search(args).await,
            Command::Seed(SeedCommand::Publish(args)) => publish_cmd::publish(args).await,
            Command::Seed(SeedCommand::Batch(args)) => batch_cmd::batch(args).await,
            Command::Seed(SeedCommand::ToCwl(args)) => seed_cmd::to_cwl(args).await,
            Command::Run(args) => run_cmd::run(args).await,
            Command::Serve(args) => serve_cmd::serve(args).await,
            Command::Worker(args) => serve_cmd::worker(args).await,
            Command::Config(args) => serve_cmd::config(args),
            Command::Jobs(args) => jobs_cmd::jobs(args).await,
            Command::Keys(args) => keys_cmd::keys(args).await,
            Command::Audit(args) => keys_cmd::audit(args).await,
            Command::Workspaces(args) => workspaces_cmd::workspaces(args).await,
            Command::Strikes(args) => ingest_cmd::strikes(args).await,
            Command::Ingests(args) => ingest_cmd::ingests(args).await,
            Command::Scans(args) => ingest_cmd::scans(args).await,
            Command::Cwl(CwlCommand::Run(args)) => cwl_cmd::run(args).await,
        }
    });
    ExitCode::from(code)
}

/// seed-cli's one-dash multi-letter version flags of `publish` (`-pM`, `-pm`, `-pp`, `-jM`,
/// `-jm`, `-jp`) rewritten as the long options clap knows (`--pp`, ...); only after
/// `seed publish` and before a `--`, so no other argument changes meaning.
fn seed_cli_spellings(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    const SPELLINGS: [&str; 6] = ["-pM", "-pm", "-pp", "-jM", "-jm", "-jp"];
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let publish = args
        .windows(2)
        .position(|pair| pair[0] == "seed" && pair[1] == "publish");
    if let Some(start) = publish {
        for arg in args.iter_mut().skip(start + 2) {
            if arg == "--" {
                break;
            }
            if let Some(flag) = arg.to_str().filter(|a| SPELLINGS.contains(a)) {
                *arg = format!("-{flag}").into();
            }
        }
    }
    args
}

/// Logs go to stderr, filtered by `RUST_LOG` (quiet by default: the CLI prints what matters).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(seed_cli_spellings(line.split(' ').map(Into::into)))
    }

    #[test]
    fn publish_takes_seed_cli_version_flags() {
        let Command::Seed(SeedCommand::Publish(args)) =
            parse("ades seed publish img -r reg -pp -jm")
                .unwrap()
                .command
        else {
            panic!("not publish");
        };
        assert!(args.package.patch && args.job.minor && !args.force);
        let Command::Seed(SeedCommand::Publish(args)) =
            parse("ades seed publish -P img -r reg").unwrap().command
        else {
            panic!("not publish");
        };
        assert_eq!(args.image, "img");
        assert_eq!(
            args.package.package_version.as_deref(),
            Some(publish_cmd::MAJOR)
        );
        let Command::Seed(SeedCommand::Publish(args)) =
            parse("ades seed publish img -r reg -P=2.0.0 -J")
                .unwrap()
                .command
        else {
            panic!("not publish");
        };
        assert_eq!(args.package.package_version.as_deref(), Some("2.0.0"));
        assert_eq!(args.job.job_version.as_deref(), Some(publish_cmd::MAJOR));
        assert!(parse("ades seed publish img -r reg -pp -pm").is_err());
        assert!(parse("ades seed publish img -r reg --force -pp").is_err());
        // Elsewhere the spellings are left alone.
        assert_eq!(
            seed_cli_spellings(["ades", "run", "img", "-pp"].map(Into::into)),
            ["ades", "run", "img", "-pp"].map(std::ffi::OsString::from)
        );
    }
}

/// Exit statuses shared by the commands.
mod status {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TIMEOUT: u8 = 124;
    pub const INTERRUPTED: u8 = 130;
}
