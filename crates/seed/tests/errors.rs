//! Exit codes and built-in failures (seed-notes 4.11, 6.3; checklist 38-40).

use seed::errors::{builtin_failure, failure_for_exit_code, BuiltinError, FailureCategory};
use seed::Manifest;

fn fixture(name: &str) -> Manifest {
    let path = format!(
        "{}/tests/fixtures/official/{name}/seed.manifest.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

// Checklist 38.
#[test]
fn exit_code_zero_is_not_a_failure() {
    for name in ["complete", "random-number", "watermark"] {
        assert_eq!(failure_for_exit_code(&fixture(name), 0), None, "{name}");
    }
}

// Checklist 39.
#[test]
fn declared_exit_codes_map_to_their_errors() {
    let manifest = fixture("complete");

    let one = failure_for_exit_code(&manifest, 1).unwrap();
    assert_eq!(one.name, "error-name-one");
    assert_eq!(one.title, "Error Name");
    assert_eq!(one.description, "Error Description");
    assert_eq!(one.category, FailureCategory::Data);
    assert_eq!(one.exit_code, Some(1));

    let two = failure_for_exit_code(&manifest, 2).unwrap();
    assert_eq!(two.name, "error-name-two");
    assert_eq!(two.title, "Error Name");
    assert_eq!(two.description, "Error Description");
    assert_eq!(two.category, FailureCategory::Job);
    assert_eq!(two.exit_code, Some(2));
}

#[test]
fn declared_error_defaults_title_description_and_category() {
    // watermark: code 1 has no title; code 2 has only code and name.
    let manifest = fixture("watermark");

    let one = failure_for_exit_code(&manifest, 1).unwrap();
    assert_eq!(one.name, "image-Corrupt-1");
    assert_eq!(one.title, "image-Corrupt-1");
    assert_eq!(
        one.description,
        "Image input is not recognized as a valid PNG."
    );
    assert_eq!(one.category, FailureCategory::Data);

    let two = failure_for_exit_code(&manifest, 2).unwrap();
    assert_eq!(two.name, "algorithm-failure");
    assert_eq!(two.title, "algorithm-failure");
    assert_eq!(two.description, "");
    assert_eq!(two.category, FailureCategory::Job);
    assert_eq!(two.exit_code, Some(2));
}

#[test]
fn empty_title_counts_as_absent_and_first_match_wins() {
    let mut manifest = fixture("complete");
    manifest.job.errors[0].title = Some(String::new());
    manifest.job.errors[1].code = 1;
    let failure = failure_for_exit_code(&manifest, 1).unwrap();
    assert_eq!(failure.name, "error-name-one");
    assert_eq!(failure.title, "error-name-one");
}

// Checklist 40.
#[test]
fn undeclared_exit_code_is_algorithm_unknown() {
    let failure = failure_for_exit_code(&fixture("complete"), 3).unwrap();
    assert_eq!(failure.name, "algorithm-unknown");
    assert_eq!(failure.category, FailureCategory::Job);
    assert_eq!(failure.exit_code, Some(3));
    assert_eq!(failure.title, BuiltinError::AlgorithmUnknown.title());
    assert!(
        failure
            .description
            .contains("exit code 3 is not declared in the manifest's errors"),
        "{}",
        failure.description
    );
    assert!(failure
        .description
        .starts_with(BuiltinError::AlgorithmUnknown.sentence()));
}

#[test]
fn any_non_zero_code_without_errors_is_algorithm_unknown() {
    let manifest = fixture("random-number");
    for code in [1, 137, 255, -1] {
        let failure = failure_for_exit_code(&manifest, code).unwrap();
        assert_eq!(failure.name, "algorithm-unknown", "{code}");
        assert_eq!(failure.exit_code, Some(code));
        assert!(failure.description.contains(&format!("exit code {code} ")));
    }
}

#[test]
fn builtin_names_are_stable() {
    let names: Vec<_> = BuiltinError::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "algorithm-unknown",
            "timeout",
            "missing-required-output",
            "unexpected-multiple-outputs",
            "invalid-results-manifest",
            "invalid-metadata",
            "invalid-output-pattern",
            "out-of-memory",
            "cancelled",
        ]
    );
}

#[test]
fn builtin_categories() {
    for error in BuiltinError::ALL {
        let expected = if error == BuiltinError::Cancelled {
            FailureCategory::System
        } else {
            FailureCategory::Job
        };
        assert_eq!(error.category(), expected, "{}", error.name());
        assert_eq!(builtin_failure(error, "").category, expected);
    }
}

#[test]
fn builtin_failure_description_is_sentence_then_detail() {
    for error in BuiltinError::ALL {
        let failure = builtin_failure(error, "  The output `out_png` matched no file.  ");
        assert_eq!(failure.name, error.name());
        assert_eq!(failure.title, error.title());
        assert!(!failure.title.is_empty());
        assert_eq!(failure.exit_code, None);
        assert_eq!(
            failure.description,
            format!("{} The output `out_png` matched no file.", error.sentence())
        );
        assert!(error.sentence().ends_with('.'));

        assert_eq!(builtin_failure(error, "").description, error.sentence());
    }
}

#[test]
fn timeout_failure() {
    let failure = builtin_failure(BuiltinError::Timeout, "The job's timeout is 30 seconds.");
    assert_eq!(failure.name, "timeout");
    assert_eq!(failure.category, FailureCategory::Job);
    assert!(failure
        .description
        .ends_with("The job's timeout is 30 seconds."));
}

#[test]
fn failure_serialises_with_lowercase_category() {
    let failure = failure_for_exit_code(&fixture("complete"), 1).unwrap();
    let value = serde_json::to_value(&failure).unwrap();
    assert_eq!(value["category"], "data");
    assert_eq!(value["name"], "error-name-one");
    assert_eq!(value["exitCode"], 1);
    let cancelled = serde_json::to_value(builtin_failure(BuiltinError::Cancelled, "")).unwrap();
    assert_eq!(cancelled["category"], "system");
    assert_eq!(cancelled["exitCode"], serde_json::Value::Null);
}
