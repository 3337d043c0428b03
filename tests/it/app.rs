//! A live `ades serve` for tests (`spawn_app`).

/// A running `ades serve` on a free port with its own data directory, for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Kept for the life of the app: dropping it deletes the data directory.
    _data_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The server's data directory (its SQLite database is `ades.db` there).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// Stops the server in order (as SIGTERM would) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

/// Starts a server with test settings (port 0, a temporary data directory, no periodic
/// rescans). Build the example images it should publish first ([`example_image`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut ades::config::Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("data dir");
    let mut settings = ades::config::Settings {
        data_dir: data_dir.path().to_path_buf(),
        ..Default::default()
    };
    settings.server.bind = "127.0.0.1:0".to_string();
    settings.server.shutdown_grace_seconds = 5;
    settings.catalog.rescan_seconds = 0;
    settings.queue.heartbeat_seconds = 1;
    settings.queue.lease_seconds = 5;
    settings.queue.poll_seconds = 1;
    adjust(&mut settings);
    let app = ades::startup::Application::build(settings)
        .await
        .expect("the application builds");
    let port = app.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        _data_dir: data_dir,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}
