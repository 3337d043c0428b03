//! Command expansion (seed-notes 4.10; checklist 32-36).

use seed::command::{expand_command, CommandError};
use std::collections::BTreeMap;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn expand(command: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    expand_command(command, &env(pairs))
        .unwrap_or_else(|e| panic!("{command:?} should expand: {e}"))
}

fn expand_err(command: &str) -> CommandError {
    match expand_command(command, &env(&[("X", "x")])) {
        Ok(args) => panic!("{command:?} should fail, gave {args:?}"),
        Err(e) => e,
    }
}

// Checklist 32: the complete example's command.
#[test]
fn complete_example_command_gives_three_arguments() {
    let args = expand(
        "${INPUT_FILE} ${OUTPUT_DIR} ${VERSION}",
        &[
            ("INPUT_FILE", "/seed/inputs/INPUT_FILE/data.h5"),
            ("OUTPUT_DIR", "/seed/outputs"),
            ("VERSION", "1"),
            ("INPUT_JSON", "unused"),
        ],
    );
    assert_eq!(
        args,
        ["/seed/inputs/INPUT_FILE/data.h5", "/seed/outputs", "1"]
    );
}

// Checklist 33.
#[test]
fn dollar_name_and_braced_name_are_both_substituted() {
    let vars = [("A", "alpha"), ("B", "beta")];
    assert_eq!(expand("$A ${B}", &vars), ["alpha", "beta"]);
    assert_eq!(expand("$A$B", &vars), ["alphabeta"]);
    assert_eq!(expand("pre${A}post", &vars), ["prealphapost"]);
    assert_eq!(expand("--a=$A --b=${B}", &vars), ["--a=alpha", "--b=beta"]);
    assert_eq!(
        expand("$A.txt $A/x $A-y $A:z", &vars),
        ["alpha.txt", "alpha/x", "alpha-y", "alpha:z"]
    );
}

// Checklist 34.
#[test]
fn prefix_expansion_gives_flag_and_value_when_set() {
    assert_eq!(
        expand("${MY_INPUT/#/-d }", &[("MY_INPUT", "/in/file.tif")]),
        ["-d", "/in/file.tif"]
    );
    assert_eq!(
        expand("run ${MY_INPUT/#/-d } out", &[("MY_INPUT", "v")]),
        ["run", "-d", "v", "out"]
    );
}

#[test]
fn prefix_expansion_gives_nothing_when_unset_or_empty() {
    assert!(expand("${MY_INPUT/#/-d }", &[]).is_empty());
    assert!(expand("${MY_INPUT/#/-d }", &[("MY_INPUT", "")]).is_empty());
    assert_eq!(expand("run ${MY_INPUT/#/-d } out", &[]), ["run", "out"]);
}

#[test]
fn prefix_without_space_stays_one_argument() {
    assert_eq!(expand("${X/#/--in=}", &[("X", "v")]), ["--in=v"]);
    assert_eq!(
        expand("pre${X/#/-d }post", &[("X", "v")]),
        ["pre-d", "vpost"]
    );
    assert_eq!(expand("${X/#/-a -b }", &[("X", "v")]), ["-a", "-b", "v"]);
    assert_eq!(expand("${X/#/}", &[("X", "v")]), ["v"]);
}

#[test]
fn prefix_may_contain_expansions() {
    let vars = [("X", "v"), ("FLAG", "--input")];
    assert_eq!(expand("${X/#/$FLAG }", &vars), ["--input", "v"]);
    assert_eq!(expand("${X/#/${FLAG}=}", &vars), ["--input=v"]);
}

// Checklist 35.
#[test]
fn substituted_values_are_never_split_or_interpreted() {
    let vars = [
        ("A", "a value with  spaces"),
        ("B", "$A ${A} `rm -rf /` ; | * \"q\" 'q' \\"),
        ("C", "\ttab\nline"),
    ];
    assert_eq!(expand("$A", &vars), ["a value with  spaces"]);
    assert_eq!(
        expand("${B}", &vars),
        ["$A ${A} `rm -rf /` ; | * \"q\" 'q' \\"]
    );
    assert_eq!(expand("x${C}y", &vars), ["x\ttab\nliney"]);
    assert_eq!(expand("${A/#/-d }", &vars), ["-d", "a value with  spaces"]);
}

// Checklist 36.
#[test]
fn empty_or_blank_command_gives_no_argument() {
    assert!(expand("", &[]).is_empty());
    assert!(expand("   \t\n\r  ", &[]).is_empty());
}

#[test]
fn literal_whitespace_of_any_ascii_kind_separates_arguments() {
    assert_eq!(expand(" a\tb\nc\r\nd  e ", &[]), ["a", "b", "c", "d", "e"]);
}

#[test]
fn non_ascii_whitespace_is_not_a_separator() {
    assert_eq!(expand("a\u{a0}b", &[]), ["a\u{a0}b"]);
}

#[test]
fn unknown_variables_expand_to_nothing_and_empty_arguments_are_dropped() {
    assert!(expand("$UNKNOWN ${UNKNOWN}", &[]).is_empty());
    assert_eq!(expand("a $NOPE b", &[]), ["a", "b"]);
    assert_eq!(expand("x$NOPE ${NOPE}y", &[]), ["x", "y"]);
    assert_eq!(expand("${EMPTY} z", &[("EMPTY", "")]), ["z"]);
}

#[test]
fn dollar_name_takes_the_longest_name() {
    assert!(expand("$IN2", &[("IN", "one")]).is_empty());
    assert_eq!(expand("$IN2", &[("IN", "one"), ("IN2", "two")]), ["two"]);
    assert_eq!(
        expand("$IN $IN2", &[("IN", "one"), ("IN2", "two")]),
        ["one", "two"]
    );
    assert_eq!(expand("$IN_FILE", &[("IN", "one")]), Vec::<String>::new());
    assert_eq!(expand("${IN}2", &[("IN", "one")]), ["one2"]);
    assert_eq!(expand("$_x1", &[("_x1", "u")]), ["u"]);
}

#[test]
fn default_expansion() {
    assert_eq!(expand("${X:-fallback}", &[]), ["fallback"]);
    assert_eq!(expand("${X:-fallback}", &[("X", "")]), ["fallback"]);
    assert_eq!(expand("${X:-fallback}", &[("X", "set")]), ["set"]);
    assert_eq!(expand("${X:-a b}", &[]), ["a", "b"]);
    assert_eq!(expand("${X:-a b}", &[("X", "c d")]), ["c d"]);
    assert!(expand("${X:-}", &[]).is_empty());
    assert_eq!(expand("${X:-$Y}", &[("Y", "why")]), ["why"]);
    assert_eq!(expand("${X:-${Y:-deep}}", &[]), ["deep"]);
    assert_eq!(expand("${X:-{a}}", &[]), ["{a}"]);
}

#[test]
fn escapes_and_literal_dollars() {
    let vars = [("HOME", "/root"), ("X", "x")];
    assert_eq!(expand("\\$HOME", &vars), ["$HOME"]);
    assert_eq!(expand("\\${HOME}", &vars), ["${HOME}"]);
    assert_eq!(expand("\\\\$X", &vars), ["\\x"]);
    assert_eq!(expand("a\\b c\\", &vars), ["a\\b", "c\\"]);
    assert_eq!(
        expand("$ $$ cost$ $1 $@ $-x", &vars),
        ["$", "$$", "cost$", "$1", "$@", "$-x"]
    );
    assert_eq!(expand("a} {b}", &vars), ["a}", "{b}"]);
    assert_eq!(expand("${X:-\\}}", &[]), ["}"]);
    assert_eq!(expand("'$X' \"$X\"", &vars), ["'x'", "\"x\""]);
}

#[test]
fn non_ascii_text_and_values() {
    assert_eq!(
        expand("é${X}ü ${Y}", &[("X", "日本"), ("Y", "🚀")]),
        ["é日本ü", "🚀"]
    );
}

#[test]
fn unbalanced_brace_is_an_error() {
    let err = expand_err("run ${INPUT_FILE");
    assert_eq!(err.command, "run ${INPUT_FILE");
    assert!(
        err.reason
            .contains("`${` at character 5 has no matching `}`"),
        "{err}"
    );
    assert!(err.to_string().contains("\"run ${INPUT_FILE\""), "{err}");

    let err = expand_err("é ${X:-${Y}");
    assert!(err.reason.contains("character 3"), "{err}");
    expand_err("${X:-a{}");
}

#[test]
fn empty_or_invalid_names_are_errors() {
    assert!(expand_err("a ${}")
        .reason
        .contains("`${}` at character 3 names no variable"));
    for command in ["${1}", "${#X}", "${!X}", "${ X}", "${-}"] {
        let err = expand_err(command);
        assert!(err.reason.contains("variable name must start"), "{err}");
    }
}

#[test]
fn unsupported_operators_are_errors() {
    for command in [
        "${X/a/b}", "${X:=y}", "${X-y}", "${X:+y}", "${X#y}", "${X }", "${X/#}",
    ] {
        let err = expand_err(command);
        assert!(err.reason.contains("is not supported"), "{command}: {err}");
        assert!(err.reason.contains("${NAME/#/prefix}"), "{err}");
    }
}

#[test]
fn unused_operands_are_still_checked() {
    // X is unset here: the prefix is not used, but its syntax is wrong.
    let err = expand_command("${X/#/${} }", &env(&[])).unwrap_err();
    assert!(err.reason.contains("names no variable"), "{err}");
    // X is set here: the default is not used, but its syntax is wrong.
    let err = expand_command("${X:-${1}}", &env(&[("X", "x")])).unwrap_err();
    assert!(err.reason.contains("variable name must start"), "{err}");
}

#[test]
fn official_example_commands_expand() {
    for (name, env_pairs, expected) in [
        (
            "complete",
            vec![
                ("INPUT_FILE", "/i/f.h5"),
                ("OUTPUT_DIR", "/o"),
                ("VERSION", "2"),
            ],
            vec!["/i/f.h5", "/o", "2"],
        ),
        (
            "watermark",
            vec![("INPUT_IMAGE", "/i/a.png"), ("OUTPUT_DIR", "/o")],
            vec!["/i/a.png", "/o"],
        ),
    ] {
        let path = format!(
            "{}/tests/fixtures/official/{name}/seed.manifest.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let command = doc["job"]["interface"]["command"].as_str().unwrap();
        assert_eq!(expand(command, &env_pairs), expected, "{name}");
        // With nothing set the command is still well formed and expands to nothing.
        assert!(expand(command, &[]).is_empty(), "{name}");
    }
}
