//! The `ades` command: parse arguments, hand over to the CLI, exit with its status.

fn main() -> std::process::ExitCode {
    ades::cli::main()
}
