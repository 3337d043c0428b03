//! Expansion of `job.interface.command` into the container's argument vector.
//!
//! The specification says an executor may expand variables in the command and must then follow
//! Bash conventions; it shows `${MY_INPUT/#/-d }` ("`-d <value>` when set, nothing when
//! unset"). Neither reference executor runs a shell: both substitute into the string and then
//! split the result on spaces, so a value containing a space becomes several arguments.
//!
//! Choice: Bash-like expansion done per argument, without a shell (seed-notes 4.10):
//!
//! 1. Arguments are separated by whitespace written in the command (ASCII space, tab, line
//!    feed, carriage return, form feed). There is no quoting: `'` and `"` are ordinary
//!    characters.
//! 2. `$NAME` and `${NAME}` are replaced by the variable's value. `NAME` is
//!    `[A-Za-z_][A-Za-z0-9_]*` and `$NAME` takes the longest such name, so `$IN2` never reads
//!    `IN` (seed-cli's plain string replacement does). A variable that is not in the
//!    environment expands to nothing (Scale would leave `${NAME}` in the command literally).
//! 3. `${NAME:-WORD}` is the value when the variable is set and non-empty, else `WORD`.
//! 4. `${NAME/#/WORD}` is `WORD` followed by the value when the variable is set and
//!    non-empty, and nothing otherwise. Bash also prepends `WORD` to a set but empty value; we
//!    don't, because the point of the form is a flag that appears only with its argument and a
//!    lone `-d` would swallow the next argument.
//! 5. Whitespace written by the manifest's author splits arguments, including the whitespace
//!    inside a `WORD` of rules 3 and 4; whitespace coming from a variable's value never does,
//!    and values are never expanded again. Hence `${MY_INPUT/#/-d }` gives the two arguments
//!    `-d` and the value (the specification's intent), `${MY_INPUT/#/--in=}` gives the single
//!    argument `--in=<value>`, and a value `a b` stays one argument (both reference executors
//!    would split it).
//! 6. An argument that ends up empty (say `${OPTIONAL}` for an absent input) is dropped, so an
//!    empty argument cannot be passed. An empty or whitespace-only command gives no argument.
//! 7. A backslash makes the next `$`, `{`, `}` or `\` literal (`\$HOME` is the text `$HOME`);
//!    any other backslash is kept as it is.
//! 8. A `$` that is not followed by `{` or by a letter or `_` is literal: a lone `$`, `$$` (not
//!    the process id), `$1`, `$@` stay as written.
//! 9. Inside `${…}`, braces nest: the expansion ends at the `}` matching its `{`, so `WORD` may
//!    hold balanced braces or further expansions (`${X:-{a}}`, `${X:-${Y}}`). A `}` outside
//!    any `${…}` is literal.
//! 10. Errors ([`CommandError`]): a `${` without its matching `}`, `${}`, a name that is not
//!     `[A-Za-z_][A-Za-z0-9_]*` (`${1}`, `${#X}`), and any other operator (`${X/a/b}`,
//!     `${X:=y}`, `${X-y}`). The `WORD` of rules 3 and 4 is checked even when it is not used,
//!     so a command's syntax does not depend on which inputs were given: expanding with an
//!     empty environment checks a command completely.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the command {command:?} cannot be expanded: {reason}")]
pub struct CommandError {
    pub command: String,
    pub reason: String,
}

/// Expands `command` with `env` into argv (to be appended after the image's ENTRYPOINT).
///
/// See the module documentation for the exact rules.
pub fn expand_command(
    command: &str,
    env: &BTreeMap<String, String>,
) -> Result<Vec<String>, CommandError> {
    let expander = Expander { command, env };
    let mut words = Words::default();
    expander.expand(command, 0, &mut words)?;
    Ok(words.into_args())
}

/// The arguments built so far and the one being built.
#[derive(Default)]
struct Words {
    args: Vec<String>,
    current: String,
}

impl Words {
    fn push_char(&mut self, ch: char) {
        self.current.push(ch);
    }

    fn push_value(&mut self, value: &str) {
        self.current.push_str(value);
    }

    fn end_word(&mut self) {
        if !self.current.is_empty() {
            self.args.push(std::mem::take(&mut self.current));
        }
    }

    fn into_args(mut self) -> Vec<String> {
        self.end_word();
        self.args
    }
}

struct Expander<'a> {
    command: &'a str,
    env: &'a BTreeMap<String, String>,
}

impl Expander<'_> {
    /// Expands `text`, which starts at byte `base` of the whole command, into `words`.
    fn expand(&self, text: &str, base: usize, words: &mut Words) -> Result<(), CommandError> {
        let mut i = 0;
        while let Some(ch) = text[i..].chars().next() {
            match ch {
                '\\' => match text[i + 1..].chars().next() {
                    Some(next @ ('$' | '{' | '}' | '\\')) => {
                        words.push_char(next);
                        i += 2;
                    }
                    _ => {
                        words.push_char('\\');
                        i += 1;
                    }
                },
                '$' if text[i + 1..].starts_with('{') => {
                    let body_start = i + 2;
                    let close = matching_brace(text, body_start).ok_or_else(|| {
                        self.error(format!(
                            "the `${{` at character {} has no matching `}}`",
                            self.char_position(base + i)
                        ))
                    })?;
                    self.expand_braced(
                        &text[body_start..close],
                        base + i,
                        base + body_start,
                        words,
                    )?;
                    i = close + 1;
                }
                '$' => {
                    let rest = &text[i + 1..];
                    let len = name_len(rest);
                    if len == 0 {
                        words.push_char('$');
                    } else {
                        words.push_value(self.lookup(&rest[..len]));
                    }
                    i += 1 + len;
                }
                c if c.is_ascii_whitespace() => {
                    words.end_word();
                    i += 1;
                }
                c => {
                    words.push_char(c);
                    i += c.len_utf8();
                }
            }
        }
        Ok(())
    }

    /// Expands the inside of `${…}`; `dollar` is the byte position of its `$` in the command
    /// and `base` that of `body`.
    fn expand_braced(
        &self,
        body: &str,
        dollar: usize,
        base: usize,
        words: &mut Words,
    ) -> Result<(), CommandError> {
        let at = self.char_position(dollar);
        let len = name_len(body);
        if len == 0 {
            return Err(self.error(if body.is_empty() {
                format!("`${{}}` at character {at} names no variable")
            } else {
                format!(
                    "`${{{body}}}` at character {at}: a variable name must start with a letter \
                     or `_` and continue with letters, digits or `_`"
                )
            }));
        }
        let value = self.lookup(&body[..len]);
        let operator = &body[len..];
        if operator.is_empty() {
            words.push_value(value);
        } else if let Some(prefix) = operator.strip_prefix("/#/") {
            let prefix_base = base + len + 3;
            if value.is_empty() {
                self.expand(prefix, prefix_base, &mut Words::default())?;
            } else {
                self.expand(prefix, prefix_base, words)?;
                words.push_value(value);
            }
        } else if let Some(default) = operator.strip_prefix(":-") {
            let default_base = base + len + 2;
            if value.is_empty() {
                self.expand(default, default_base, words)?;
            } else {
                self.expand(default, default_base, &mut Words::default())?;
                words.push_value(value);
            }
        } else {
            return Err(self.error(format!(
                "`${{{body}}}` at character {at} is not supported: use `${{NAME}}`, \
                 `${{NAME:-default}}` or `${{NAME/#/prefix}}`"
            )));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> &str {
        self.env.get(name).map(String::as_str).unwrap_or("")
    }

    /// 1-based character position of byte `byte` of the command, for messages.
    fn char_position(&self, byte: usize) -> usize {
        self.command[..byte].chars().count() + 1
    }

    fn error(&self, reason: String) -> CommandError {
        CommandError {
            command: self.command.to_owned(),
            reason,
        }
    }
}

/// Length in bytes of the variable name at the start of `text` (0 when there is none).
fn name_len(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return 0,
    }
    chars
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(text.len(), |(i, _)| i)
}

/// Byte index of the `}` closing a `${` whose body starts at byte `start` of `text`.
fn matching_brace(text: &str, start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut chars = text[start..].char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            // An escaped brace does not count (rule 7 of the module documentation).
            '\\' if text[start + i + 1..].starts_with(['$', '{', '}', '\\']) => {
                chars.next();
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + i);
                }
            }
            _ => {}
        }
    }
    None
}
