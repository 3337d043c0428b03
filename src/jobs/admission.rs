//! Whether any live worker pool could ever run a process's jobs: the CPUs, memory and GPUs
//! its Seed manifest declares against the largest capacity each pool offers. A job that
//! fits nowhere is refused at submission instead of waiting forever.
//!
//! Only the fixed part of a resource counts here: `inputMultiplier` adds the size of the
//! inputs, unknown until they are staged (the worker checks the whole amount then). With no
//! live pool at all (workers not started yet, or an API-only replica waiting for `ades
//! worker`s), everything is accepted: the jobs wait in the queue.

use crate::domain::Process;
use crate::store::WorkerHost;

/// What a process's jobs ask for, from its manifest's fixed resource values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Demand {
    pub cpus: Option<f64>,
    pub mem_mib: Option<f64>,
    pub gpus: u32,
}

impl Demand {
    pub fn of(process: &Process) -> Demand {
        let mut demand = Demand::default();
        for resource in process.seed.manifest.scalar_resources() {
            match resource.name.as_str() {
                "cpus" => demand.cpus = Some(resource.value),
                "mem" => demand.mem_mib = Some(resource.value),
                "gpus" => demand.gpus = resource.value.max(0.0).ceil() as u32,
                _ => {}
            }
        }
        demand
    }

    /// Whether `host` could run it when idle (`None` capacity: no limit).
    pub fn fits(&self, host: &WorkerHost) -> bool {
        let within = |asked: Option<f64>, offered: Option<f64>| match (asked, offered) {
            (Some(asked), Some(offered)) => asked <= offered,
            _ => true,
        };
        within(self.cpus, host.cpus) && within(self.mem_mib, host.mem_mib) && self.gpus <= host.gpus
    }
}

/// Why no pool in `live` can run `process`'s jobs, or `None` when one can (or when there
/// is no live pool to ask).
pub fn misfit(process: &Process, live: &[WorkerHost]) -> Option<String> {
    let demand = Demand::of(process);
    if live.is_empty() || live.iter().any(|host| demand.fits(host)) {
        return None;
    }
    let asked = describe(demand.cpus, demand.mem_mib, demand.gpus);
    let offered: Vec<String> = live
        .iter()
        .map(|host| {
            format!(
                "{} ({})",
                host.host,
                describe(host.cpus, host.mem_mib, host.gpus)
            )
        })
        .collect();
    Some(format!(
        "Process {} asks for {asked} (its Seed resources), more than any worker offers: {}. \
         Run a worker with more capacity (queue.capacity_cpus, queue.capacity_mem_mib, \
         queue.capacity_gpus) or deploy the process with smaller resources.",
        process.id,
        offered.join("; ")
    ))
}

fn describe(cpus: Option<f64>, mem_mib: Option<f64>, gpus: u32) -> String {
    let cpus = cpus.map_or("any number of CPUs".to_string(), |c| format!("{c} CPUs"));
    let mem = mem_mib.map_or("any memory".to_string(), |m| format!("{m} MiB of memory"));
    format!("{cpus}, {mem}, {gpus} GPUs")
}
