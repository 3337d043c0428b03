//! Whether any live worker pool could ever run a process's jobs: the CPUs, memory (`mem`
//! plus `sharedMem`), disk and GPUs its Seed manifest declares (a CWL tool: its
//! `ResourceRequirement`'s `coresMin`, `ramMin`, `outdirMin`) against the capacity each
//! pool offers. A job that fits nowhere is refused at submission instead of waiting forever.
//!
//! Only the fixed part of a resource counts here: `inputMultiplier` adds the size of the
//! inputs, unknown until they are staged (the worker checks the whole amount then). With no
//! live pool at all (workers not started yet, or an API-only replica waiting for `ades
//! worker`s), everything is accepted: the jobs wait in the queue.

use crate::domain::{Binding, Process};
use crate::store::WorkerHost;

/// What a process's jobs ask for, from its manifest's fixed resource values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Demand {
    pub cpus: Option<f64>,
    /// `mem` plus `sharedMem`.
    pub mem_mib: Option<f64>,
    pub disk_mib: Option<f64>,
    pub gpus: u32,
}

impl Demand {
    pub fn of(process: &Process) -> Demand {
        let mut demand = Demand::default();
        let add = |total: Option<f64>, value: f64| Some(total.unwrap_or(0.0) + value);
        let resources = match &process.binding {
            Binding::Seed(seed) => seed.manifest.scalar_resources(),
            // The workflow itself runs nothing: its steps are jobs with their own demands.
            Binding::Workflow(_) | Binding::Remote(_) => &[],
            // A CWL tool's ResourceRequirement, as the same Seed resource names.
            Binding::Cwl(cwl) => cwl.resources.as_slice(),
        };
        for resource in resources {
            match resource.name.as_str() {
                "cpus" => demand.cpus = Some(resource.value),
                "mem" | "sharedMem" => demand.mem_mib = add(demand.mem_mib, resource.value),
                "disk" => demand.disk_mib = Some(resource.value),
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
        within(self.cpus, host.cpus)
            && within(self.mem_mib, host.mem_mib)
            && within(self.disk_mib, host.disk_mib)
            && self.gpus <= host.gpus
    }
}

/// Why no pool in `live` can run `process`'s jobs, or `None` when one can (or when there
/// is no live pool to ask).
pub fn misfit(process: &Process, live: &[WorkerHost]) -> Option<String> {
    let demand = Demand::of(process);
    if live.is_empty() || live.iter().any(|host| demand.fits(host)) {
        return None;
    }
    let asked = describe(demand.cpus, demand.mem_mib, demand.disk_mib, demand.gpus);
    let offered: Vec<String> = live
        .iter()
        .map(|host| {
            let offers = describe(host.cpus, host.mem_mib, host.disk_mib, host.gpus);
            format!("{} ({offers})", host.host)
        })
        .collect();
    Some(format!(
        "Process {} asks for {asked} (its Seed resources or CWL ResourceRequirement), more \
         than any worker offers: {}. Run a worker with more capacity (queue.capacity_cpus, queue.capacity_mem_mib, \
         queue.capacity_disk_mib, queue.capacity_gpus) or deploy the process with smaller \
         resources.",
        process.id,
        offered.join("; ")
    ))
}

fn describe(cpus: Option<f64>, mem_mib: Option<f64>, disk_mib: Option<f64>, gpus: u32) -> String {
    let cpus = cpus.map_or("any number of CPUs".to_string(), |c| format!("{c} CPUs"));
    let mem = mem_mib.map_or("any memory".to_string(), |m| format!("{m} MiB of memory"));
    let disk = disk_mib.map_or("any disk".to_string(), |d| format!("{d} MiB of disk"));
    format!("{cpus}, {mem}, {disk}, {gpus} GPUs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::test_support::{manifest, process};
    use time::OffsetDateTime;

    fn asking(resources: serde_json::Value) -> Process {
        let mut document = manifest("asking", serde_json::json!({}), serde_json::json!([]));
        document["job"]["resources"] = serde_json::json!({ "scalar": resources });
        process(document)
    }

    fn host(name: &str, mem_mib: Option<f64>, disk_mib: Option<f64>) -> WorkerHost {
        let now = OffsetDateTime::now_utc();
        WorkerHost {
            id: name.to_string(),
            host: name.to_string(),
            workers: 2,
            cpus: Some(4.0),
            mem_mib,
            disk_mib,
            gpus: 0,
            running: 0,
            started: now,
            seen: now,
            expires: now,
        }
    }

    #[test]
    fn shared_memory_adds_to_memory_and_disk_counts() {
        let process = asking(serde_json::json!([
            {"name": "mem", "value": 300},
            {"name": "sharedMem", "value": 300},
            {"name": "disk", "value": 50, "inputMultiplier": 4}
        ]));
        let demand = Demand::of(&process);
        assert_eq!(demand.mem_mib, Some(600.0));
        assert_eq!(demand.disk_mib, Some(50.0));
        assert!(demand.fits(&host("big", Some(600.0), None)));
        assert!(!demand.fits(&host("small", Some(500.0), None)));
        assert!(!demand.fits(&host("tight", None, Some(40.0))));
    }

    #[test]
    fn a_misfit_names_what_was_asked_and_every_offer() {
        let process = asking(serde_json::json!([{"name": "mem", "value": 2048}]));
        assert_eq!(misfit(&process, &[]), None, "no live pool: queue it");
        let offers = [
            host("a", Some(1024.0), None),
            host("b", Some(512.0), Some(10.0)),
        ];
        let why = misfit(&process, &offers).expect("fits nowhere");
        assert!(why.contains("2048 MiB of memory"), "{why}");
        assert!(
            why.contains("a (4 CPUs, 1024 MiB of memory, any disk, 0 GPUs)"),
            "{why}"
        );
        assert!(
            why.contains("b (4 CPUs, 512 MiB of memory, 10 MiB of disk"),
            "{why}"
        );
        let roomy = [host("c", Some(4096.0), None)];
        assert_eq!(misfit(&process, &roomy), None);
    }
}
