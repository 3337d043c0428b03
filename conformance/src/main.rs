//! `ogc-conformance URL [--echo-process ID --echo-input ID --echo-output ID]
//! [--slow-process ID --slow-inputs JSON]`: prints one line per assertion and a summary;
//! exits 1 when any assertion fails.

use clap::Parser;
use conformance::{run_suite, summary_line, EchoProcess, SlowProcess, SuiteConfig, Verdict};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "ogc-conformance",
    about = "Check an OGC API - Processes 1.0 server"
)]
struct Args {
    /// The server's landing page URL, e.g. http://127.0.0.1:8080
    url: String,
    /// A process that echoes a string input into an output (enables the execution checks).
    #[arg(long)]
    echo_process: Option<String>,
    /// The echo process's string input.
    #[arg(long, default_value = "MESSAGE")]
    echo_input: String,
    /// The echo process's output returning that string.
    #[arg(long, default_value = "ECHOED")]
    echo_output: String,
    /// A process whose job takes a few seconds (enables the result-not-ready check).
    #[arg(long)]
    slow_process: Option<String>,
    /// The inputs object for the slow process, as JSON.
    #[arg(long, default_value = "{}")]
    slow_inputs: String,
    /// Longest wait for an asynchronous job, seconds.
    #[arg(long, default_value_t = 120)]
    job_timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let slow_inputs = match serde_json::from_str(&args.slow_inputs) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: --slow-inputs is not JSON: {e}");
            return ExitCode::from(2);
        }
    };
    let config = SuiteConfig {
        base: args.url.trim_end_matches('/').to_string(),
        echo: args.echo_process.map(|process| EchoProcess {
            process,
            input: args.echo_input,
            output: args.echo_output,
        }),
        slow: args.slow_process.map(|process| SlowProcess {
            process,
            inputs: slow_inputs,
        }),
        job_timeout: Duration::from_secs(args.job_timeout),
    };
    let outcomes = run_suite(&config).await;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    println!("{}", summary_line(&outcomes));
    if outcomes
        .iter()
        .any(|o| matches!(o.verdict, Verdict::Fail(_)))
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
