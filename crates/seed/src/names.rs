//! Names: environment variable normalisation and the Seed image naming convention.

use crate::manifest::Job;

/// Normalises a manifest name into an environment variable name: ASCII letters upper-cased,
/// `-` becomes `_`, digits and `_` kept, anything else dropped (seed-cli; identical to the
/// spec and Scale for schema-valid names). `my-demo-resourceNew` -> `MY_DEMO_RESOURCENEW`.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' => Some(c.to_ascii_uppercase()),
            '0'..='9' | '_' => Some(c),
            '-' => Some('_'),
            _ => None,
        })
        .collect()
}

/// `<name>-<jobVersion>-seed:<packageVersion>`, e.g. `my-job-1.0.0-seed:1.0.0`.
pub fn image_name(job: &Job) -> String {
    format!(
        "{}:{}",
        repository(&job.name, &job.job_version),
        job.package_version
    )
}

/// Why Docker would refuse [`image_name`] for this job (upper-case letters in `job.name`,
/// `+build` metadata in a version), as a sentence saying what to change; `None` when fine.
/// Several findings are joined with "; ".
///
/// Choice: ades does not lower-case or strip anything to make such a name acceptable (the
/// image would then not be the one seed-cli builds or other executors look up); manifest
/// validation reports these findings as errors instead.
pub fn docker_name_problem(job: &Job) -> Option<String> {
    let findings = docker_name_findings(&job.name, &job.job_version, &job.package_version);
    if findings.is_empty() {
        None
    } else {
        Some(
            findings
                .into_iter()
                .map(|(_, sentence)| sentence)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// The member of `job` a Docker naming finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameField {
    Name,
    JobVersion,
    PackageVersion,
}

impl NameField {
    /// The JSON pointer of the member in a manifest.
    pub(crate) fn pointer(self) -> &'static str {
        match self {
            NameField::Name => "/job/name",
            NameField::JobVersion => "/job/jobVersion",
            NameField::PackageVersion => "/job/packageVersion",
        }
    }
}

// Docker's reference grammar (distribution/reference): a path component is
// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, a whole name at most 255 characters, a tag
// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
const MAX_REPOSITORY_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

fn repository(name: &str, job_version: &str) -> String {
    format!("{name}-{job_version}-seed")
}

/// Every reason Docker would refuse the image name built from these members, each with the
/// member it is about and a sentence saying what to change.
pub(crate) fn docker_name_findings(
    name: &str,
    job_version: &str,
    package_version: &str,
) -> Vec<(NameField, String)> {
    let mut findings = Vec::new();
    let repo = repository(name, job_version);

    if name.chars().any(|c| c.is_ascii_uppercase()) {
        findings.push((
            NameField::Name,
            format!(
                "`job.name` \"{name}\" has upper-case letters, but Docker only accepts lower case \
                 in image repository names: write it as \"{}\"",
                name.to_ascii_lowercase()
            ),
        ));
    }
    if name.starts_with(['-', '_', '.']) {
        findings.push((
            NameField::Name,
            format!(
                "`job.name` \"{name}\" starts with '{}', but a Docker repository name must start \
                 with a letter or digit: remove the leading punctuation",
                &name[..1]
            ),
        ));
    }
    if let Some((_, build)) = job_version.split_once('+') {
        findings.push((
            NameField::JobVersion,
            format!(
                "`job.jobVersion` \"{job_version}\" carries build metadata (`+{build}`), but '+' \
                 cannot appear in a Docker image name: drop the `+{build}` part"
            ),
        ));
    } else if job_version.chars().any(|c| c.is_ascii_uppercase()) {
        findings.push((
            NameField::JobVersion,
            format!(
                "`job.jobVersion` \"{job_version}\" has upper-case letters, but it becomes part \
                 of the image repository name, which Docker only accepts in lower case: write \
                 it as \"{}\"",
                job_version.to_ascii_lowercase()
            ),
        ));
    }
    if let Some((_, build)) = package_version.split_once('+') {
        findings.push((
            NameField::PackageVersion,
            format!(
                "`job.packageVersion` \"{package_version}\" carries build metadata (`+{build}`), \
                 but '+' cannot appear in a Docker image tag: drop the `+{build}` part"
            ),
        ));
    }
    if package_version.len() > MAX_TAG_LEN {
        findings.push((
            NameField::PackageVersion,
            format!(
                "`job.packageVersion` is {} characters long, but a Docker image tag holds at \
                 most {MAX_TAG_LEN}: shorten it",
                package_version.len()
            ),
        ));
    }
    if repo.len() > MAX_REPOSITORY_LEN {
        findings.push((
            NameField::Name,
            format!(
                "the image repository `{repo}` is {} characters long, but Docker accepts at most \
                 {MAX_REPOSITORY_LEN}: shorten `job.name` or `job.jobVersion`",
                repo.len()
            ),
        ));
    }

    // Anything the specific checks above do not explain (only possible for members that the
    // manifest schema would reject anyway) still gets a sentence.
    if findings.is_empty() {
        if !is_repository_component(&repo) {
            findings.push((
                NameField::Name,
                format!(
                    "Docker does not accept `{repo}` as an image repository (lower-case letters \
                     and digits, separated by single '.' or '_', '__' or dashes): change \
                     `job.name` or `job.jobVersion`"
                ),
            ));
        }
        if !is_tag(package_version) {
            findings.push((
                NameField::PackageVersion,
                format!(
                    "Docker does not accept \"{package_version}\" as an image tag (letters, \
                     digits, '_', '.' and '-', not starting with '.' or '-'): change \
                     `job.packageVersion`"
                ),
            ));
        }
    }
    findings
}

/// Whether `s` is one Docker repository path component.
fn is_repository_component(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    // Alternating runs: alphanumerics, then a separator, then alphanumerics again.
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[sep_start..i].iter().collect();
        let valid_sep = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !valid_sep {
            return false;
        }
    }
}

/// Whether `s` is a Docker image tag.
fn is_tag(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if word(first) => {}
        _ => return false,
    }
    s.len() <= MAX_TAG_LEN && chars.all(|c| word(c) || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_follows_seed_cli() {
        assert_eq!(normalize("my-demo-resourceNew"), "MY_DEMO_RESOURCENEW");
        assert_eq!(normalize("sharedMem"), "SHAREDMEM");
        assert_eq!(normalize("IN_FILE"), "IN_FILE");
        assert_eq!(normalize("in-file"), "IN_FILE");
        assert_eq!(normalize("a.b c/d9"), "ABCD9");
        assert_eq!(normalize("ümlaut"), "MLAUT");
    }

    #[test]
    fn repository_components() {
        assert!(is_repository_component("my-job-1.0.0-seed"));
        assert!(is_repository_component("my--job-1.0.0-rc.1-seed"));
        assert!(is_repository_component("a_b__c-seed"));
        assert!(!is_repository_component("My-Job-1.0.0-seed"));
        assert!(!is_repository_component("-job-1.0.0-seed"));
        assert!(!is_repository_component("job-1.0.0+b1-seed"));
        assert!(!is_repository_component("a___b"));
        assert!(!is_repository_component("a..b"));
        assert!(!is_repository_component(""));
    }

    #[test]
    fn tags() {
        assert!(is_tag("1.0.0"));
        assert!(is_tag("1.0.0-RC.1"));
        assert!(!is_tag("1.0.0+b1"));
        assert!(!is_tag(".1"));
        assert!(!is_tag(""));
        assert!(!is_tag(&"1".repeat(129)));
    }

    #[test]
    fn findings_point_at_the_member() {
        let found = docker_name_findings("My-Job", "1.0.0+b1", "1.0.0+b2");
        let fields: Vec<_> = found.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                NameField::Name,
                NameField::JobVersion,
                NameField::PackageVersion
            ]
        );
        assert!(found[0].1.contains("\"my-job\""), "{}", found[0].1);
        assert!(docker_name_findings("my-job", "1.0.0-rc.1", "1.0.0-RC.1").is_empty());
        let upper = docker_name_findings("my-job", "1.0.0-RC1", "1.0.0");
        assert_eq!(upper.len(), 1);
        assert_eq!(upper[0].0, NameField::JobVersion);
        assert_eq!(
            docker_name_findings("-job", "1.0.0", "1.0.0")[0].0,
            NameField::Name
        );
        assert_eq!(NameField::PackageVersion.pointer(), "/job/packageVersion");
    }
}
