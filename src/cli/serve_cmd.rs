//! `ades serve` and `ades config`.

use super::{print, status, ConfigArgs, ServeArgs, WorkerArgs};
use crate::config::{ConfigError, Overrides, Settings};
use crate::startup::{init_server_tracing, Application, Role};

/// The settings `ades serve` (and `ades config`) runs with.
fn serve_settings(args: &ServeArgs) -> Result<Settings, ConfigError> {
    args.settings.load(Overrides {
        bind: args.bind.clone(),
        workers: if args.no_workers {
            Some(0)
        } else {
            args.workers
        },
        images: args.images.clone(),
        admin_token: args.admin_token.clone(),
        admin_token_file: args.admin_token_file.clone(),
        ..Overrides::default()
    })
}

pub async fn serve(args: ServeArgs) -> u8 {
    if args.admin_token.is_some() {
        print::warning(
            "--admin-token shows in the process list (ps) of everyone on this host; prefer \
             --admin-token-file or the ADES__AUTH__ADMIN_TOKEN variable",
        );
    }
    run(serve_settings(&args), Role::Server).await
}

/// `ades worker`: the server's start-up without HTTP.
pub async fn worker(args: WorkerArgs) -> u8 {
    let settings = args.settings.load(Overrides {
        workers: args.workers,
        images: args.images.clone(),
        ..Overrides::default()
    });
    run(settings, Role::Worker).await
}

async fn run(settings: Result<Settings, ConfigError>, role: Role) -> u8 {
    let settings = match settings {
        Ok(settings) => settings,
        Err(err) => {
            print::error(&err.to_string());
            return status::USAGE;
        }
    };
    let traces = match init_server_tracing(&settings) {
        Ok(traces) => traces,
        Err(err) => {
            print::error(&err);
            return status::USAGE;
        }
    };
    tracing::info!(?settings, ?role, "starting");
    let code = match Application::build_as(settings, role).await {
        Ok(app) => match app.run_until_stopped(stop_signal()).await {
            Ok(()) => status::OK,
            Err(err) => {
                print::error(&format!("{err:#}"));
                status::ERROR
            }
        },
        Err(err) => {
            print::error(&format!("{err:#}"));
            status::ERROR
        }
    };
    // Last, once the server has stopped: its final spans are exported too.
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    code
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

pub fn config(args: ConfigArgs) -> u8 {
    match serve_settings(&args.serve) {
        Ok(settings) => {
            print!("{}", settings.to_redacted_toml());
            status::OK
        }
        Err(err) => {
            print::error(&err.to_string());
            status::USAGE
        }
    }
}
