//! Human-readable messages on stderr, coloured when stderr is a terminal (and `NO_COLOR` is
//! unset), plus JSON output on stdout for `--json`.

use owo_colors::{OwoColorize, Stream};
use seed::{Problem, Severity};
use serde::Serialize;

/// `error: <message>` in red.
pub fn error(message: &str) {
    eprintln!(
        "{} {message}",
        "error:".if_supports_color(Stream::Stderr, |t| t.red().bold().to_string())
    );
}

/// `warning: <message>` in yellow.
pub fn warning(message: &str) {
    eprintln!(
        "{} {message}",
        "warning:".if_supports_color(Stream::Stderr, |t| t.yellow().bold().to_string())
    );
}

/// A line of success in green.
pub fn success(message: &str) {
    eprintln!(
        "{}",
        message.if_supports_color(Stream::Stderr, |t| t.green().bold().to_string())
    );
}

/// A plain line on stderr.
pub fn note(message: &str) {
    eprintln!("{message}");
}

/// Every problem, one per line: `  ERROR /job/name: message`.
pub fn problems(problems: &[Problem]) {
    for problem in problems {
        let tag = match problem.severity {
            Severity::Error => "ERROR  "
                .if_supports_color(Stream::Stderr, |t| t.red().bold().to_string())
                .to_string(),
            Severity::Warning => "WARNING"
                .if_supports_color(Stream::Stderr, |t| t.yellow().bold().to_string())
                .to_string(),
        };
        eprintln!("  {tag} {problem}");
    }
}

/// Pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => error(&format!("cannot print the JSON report: {err}")),
    }
}

/// `1.5 KiB`-style sizes.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_naturally() {
        assert_eq!(super::size(12), "12 B");
        assert_eq!(super::size(1536), "1.5 KiB");
        assert_eq!(super::size(5 * 1024 * 1024), "5.0 MiB");
    }
}
