//! Overhead of `ades run` over a plain `docker run --rm` of the same Seed image.
//!
//! Runs the io-demo example both ways, alternating (so drift in the machine's load hits both
//! alike), and prints the median wall time of each and the relative overhead. The plain
//! `docker run` gets the same bind mounts and environment ades would give, without the
//! hardening flags (which cost nothing measurable) so it is the cheapest honest baseline.
//!
//! Run: `cargo bench --bench run_overhead` (needs Docker, busybox-static; builds what it
//! needs). `ADES_BENCH_RUNS` sets the number of runs of each (default 30).

mod common;

use common::{build_ades, must};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const IMAGE: &str = "io-demo-1.0.0-seed:1.0.0";

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runs: usize = std::env::var("ADES_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let ades = build_ades(&root);
    must(Command::new("bash").arg(root.join("examples/base/build.sh")));
    must(
        Command::new(&ades)
            .args(["seed", "build"])
            .arg(root.join("examples/io-demo")),
    );

    let input = root.join("examples/io-demo/sample/input.txt");
    let work = std::env::temp_dir().join(format!("ades-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create the bench directory");

    let mut plain = Vec::with_capacity(runs);
    let mut through_ades = Vec::with_capacity(runs);
    // One warm-up of each, not counted.
    for i in 0..=runs {
        let out_plain = fresh_dir(&work, &format!("plain-{i}"));
        let started = Instant::now();
        must(&mut docker_run_command(&input, &out_plain));
        let plain_time = started.elapsed();

        let out_ades = work.join(format!("ades-{i}"));
        let started = Instant::now();
        must(
            Command::new(&ades)
                .args(["run", IMAGE, "-i"])
                .arg(format!("INPUT_FILE={}", input.display()))
                .arg("-o")
                .arg(&out_ades),
        );
        let ades_time = started.elapsed();
        if i > 0 {
            plain.push(plain_time);
            through_ades.push(ades_time);
        }
    }
    let _ = std::fs::remove_dir_all(&work);

    let plain_median = median(&mut plain);
    let ades_median = median(&mut through_ades);
    let overhead = (ades_median.as_secs_f64() / plain_median.as_secs_f64() - 1.0) * 100.0;
    println!("runs of each:              {runs}");
    println!(
        "docker run --rm (median):  {:.1} ms",
        plain_median.as_secs_f64() * 1e3
    );
    println!(
        "ades run (median):         {:.1} ms",
        ades_median.as_secs_f64() * 1e3
    );
    println!("overhead of ades run:      {overhead:+.1} %");
}

/// The `docker run` equivalent of what `ades run` starts for io-demo.
fn docker_run_command(input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(["run", "--rm", "--network", "none"])
        .arg("-v")
        .arg(format!(
            "{}:/seed/inputs/INPUT_FILE/input.txt:ro",
            input.display()
        ))
        .arg("-v")
        .arg(format!("{}:/seed/outputs", output.display()))
        .args([
            "-e",
            "INPUT_FILE=/seed/inputs/INPUT_FILE/input.txt",
            "-e",
            "OUTPUT_DIR=/seed/outputs",
            IMAGE,
            "/seed/inputs/INPUT_FILE/input.txt",
            "/seed/outputs",
        ]);
    cmd
}

fn fresh_dir(work: &Path, name: &str) -> PathBuf {
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).expect("create an output directory");
    dir
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
