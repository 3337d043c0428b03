//! JavaScript expressions of CWL (`InlineJavascriptRequirement`), evaluated by QuickJS
//! embedded through the `rquickjs` crate.
//!
//! Why QuickJS: it is a complete ES2023 engine that is maintained, builds from C in under
//! half a minute (no code generator, no network), and has nothing but the language itself:
//! no file, network or process access exists in it for an expression to reach. Each
//! evaluation gets a fresh runtime with a memory cap and a deadline, so an expression of a
//! deployed package can neither see another one's values nor hold the server.
//!
//! An expression sees `inputs`, `self` and `runtime` as globals, after the requirement's
//! `expressionLib` has run; `$(...)` is evaluated as an expression, `${...}` as the body
//! of a function. The result crosses back as JSON: `undefined` is null, as in cwltool.

use super::expression::{to_json, Context, ExpressionError};
use rquickjs::{Context as JsContext, Runtime};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long one expression may run (cwltool allows 60 s; an expression that needs more is
/// a loop, and this one runs in the server's own process).
/// (A second in unit tests, which stop a loop on purpose.)
const TIME_LIMIT: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(10)
};

/// The memory one evaluation may take, values and library included.
const MEMORY_LIMIT: usize = 256 << 20;

/// Whether the code is `$(...)` (an expression) or `${...}` (a function body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Expression,
    Body,
}

/// Evaluates `code` (the inside of `$(...)` or `${...}`) with the context's values and
/// library; `whole` is the expression as written, for messages.
pub fn evaluate(
    code: &str,
    form: Form,
    whole: &str,
    library: &str,
    context: &Context,
) -> Result<Value, ExpressionError> {
    let fail = |reason: String| ExpressionError::Script {
        expression: whole.to_string(),
        reason,
    };
    let body = match form {
        Form::Expression => format!("return ({code}\n);"),
        Form::Body => code.to_string(),
    };
    // The values are JSON, which is JavaScript; big whole numbers written in full.
    let script = format!(
        "var inputs = {};\nvar self = {};\nvar runtime = {};\n{library}\n;\
         JSON.stringify((function() {{\n{body}\n}})());",
        to_json(context.inputs),
        to_json(context.self_),
        to_json(context.runtime),
    );
    let runtime = Runtime::new()
        .map_err(|err| fail(format!("the JavaScript engine did not start: {err}")))?;
    runtime.set_memory_limit(MEMORY_LIMIT);
    let deadline = Instant::now() + TIME_LIMIT;
    runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() > deadline)));
    let js = JsContext::full(&runtime)
        .map_err(|err| fail(format!("the JavaScript engine did not start: {err}")))?;
    let result: Result<Option<String>, String> = js.with(|ctx| {
        ctx.eval::<Option<String>, _>(script).map_err(|err| {
            let caught = ctx.catch();
            let message = caught
                .as_exception()
                .and_then(|e| e.message())
                .or_else(|| caught.as_string().and_then(|s| s.to_string().ok()))
                .unwrap_or_else(|| err.to_string());
            if Instant::now() > deadline {
                format!("it ran longer than {} s", TIME_LIMIT.as_secs())
            } else {
                message
            }
        })
    });
    match result.map_err(fail)? {
        None => Ok(Value::Null),
        Some(json) => serde_json::from_str(&json)
            .map_err(|err| fail(format!("its value is not JSON ({err})"))),
    }
}

/// The library of an `InlineJavascriptRequirement` (its `expressionLib` entries, one after
/// the other); `None` when `requirement` is not one.
pub fn library_of(requirement: &Value) -> Option<String> {
    if requirement.get("class").and_then(Value::as_str) != Some("InlineJavascriptRequirement") {
        return None;
    }
    let entries = match requirement.get("expressionLib") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n;\n"),
        Some(Value::String(one)) => one.clone(),
        _ => String::new(),
    };
    Some(entries)
}

/// The library in effect for a process with these requirements and hints (the first
/// `InlineJavascriptRequirement` among them); `None` when there is none.
pub fn library_in<'a>(declared: impl IntoIterator<Item = &'a Value>) -> Option<String> {
    declared.into_iter().find_map(library_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, form: Form, library: &str) -> Result<Value, ExpressionError> {
        let inputs = json!({"n": 3, "file": {"basename": "a.txt", "size": 12}, "list": [1, 2]});
        let runtime = json!({"cores": 2});
        let self_ = json!("me");
        let context = Context {
            inputs: &inputs,
            self_: &self_,
            runtime: &runtime,
            library: Some(library),
        };
        evaluate(code, form, code, library, &context)
    }

    #[test]
    fn expressions_and_bodies_see_inputs_self_and_runtime() {
        assert_eq!(run("inputs.n + 1", Form::Expression, "").unwrap(), json!(4));
        assert_eq!(
            run("return self + '-' + runtime.cores;", Form::Body, "").unwrap(),
            json!("me-2")
        );
        assert_eq!(
            run(
                "inputs.list.map(function(x) { return x * 2; })",
                Form::Expression,
                ""
            )
            .unwrap(),
            json!([2, 4])
        );
        assert_eq!(
            run("inputs.missing", Form::Expression, "").unwrap(),
            json!(null)
        );
        assert_eq!(run("1.5", Form::Expression, "").unwrap(), json!(1.5));
    }

    #[test]
    fn the_library_is_in_scope() {
        let library = "function twice(x) { return 2 * x; }";
        assert_eq!(
            run("twice(inputs.n)", Form::Expression, library).unwrap(),
            json!(6)
        );
    }

    #[test]
    fn errors_name_the_expression_and_say_why() {
        let err = run("inputs.n.no.such", Form::Expression, "").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("inputs.n.no.such"), "{text}");
        assert!(text.contains("undefined"), "{text}");
        let thrown = run("throw 'nope'", Form::Body, "").unwrap_err().to_string();
        assert!(thrown.contains("nope"), "{thrown}");
    }

    #[test]
    fn a_loop_is_stopped_and_the_engine_has_no_io() {
        let err = run("while (true) {}", Form::Body, "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer than"), "{err}");
        let io = run(
            "typeof require + typeof std + typeof os",
            Form::Expression,
            "",
        )
        .unwrap();
        assert_eq!(io, json!("undefinedundefinedundefined"));
    }
}
