//! How a watcher hears of new files early. A host folder (`dir-watcher`) is watched with
//! inotify through the `notify` crate: an event wakes the watcher for a listing at once. The
//! events only wake it: what is ingested always comes from a listing, and a periodic
//! rescan (`monitor.rescan_seconds`) catches whatever inotify misses (its queue overflows,
//! network file systems, files there before the watch began). An S3 prefix has no events
//! here (Scale used SQS): it is listed every `rescan_seconds`, from the stored cursor.

use notify::{RecursiveMode, Watcher};
use std::path::Path;
use tokio::sync::mpsc;

/// Wake-ups from inotify for one host folder; dropping it ends the watch.
pub struct HostEvents {
    _watcher: notify::RecommendedWatcher,
    receiver: mpsc::Receiver<()>,
}

impl HostEvents {
    /// Watches `folder` and everything under it; `None` (and a warning) when inotify
    /// refuses (too many watches, no such folder yet): the periodic rescan still works.
    pub fn watch(folder: &Path) -> Option<HostEvents> {
        // One pending wake-up is enough: a listing sees every change since.
        let (sender, receiver) = mpsc::channel(1);
        let handler = move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if matches!(
                    event.kind,
                    notify::EventKind::Create(_)
                        | notify::EventKind::Modify(_)
                        | notify::EventKind::Access(notify::event::AccessKind::Close(_))
                ) {
                    let _ = sender.try_send(());
                }
            }
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(watcher) => watcher,
            Err(err) => {
                tracing::warn!(error = %err, "inotify unavailable; the strike relies on its periodic rescan");
                return None;
            }
        };
        if let Err(err) = watcher.watch(folder, RecursiveMode::Recursive) {
            tracing::warn!(folder = %folder.display(), error = %err, "cannot watch the folder with inotify; the strike relies on its periodic rescan");
            return None;
        }
        Some(HostEvents {
            _watcher: watcher,
            receiver,
        })
    }

    /// The next wake-up.
    pub async fn next(&mut self) -> Option<()> {
        self.receiver.recv().await
    }

    /// Forgets wake-ups already queued (the coming listing covers them).
    pub fn drain(&mut self) {
        while self.receiver.try_recv().is_ok() {}
    }
}
