//! The integration tests, one binary with a module per concept.

mod cascade;
mod event;
mod guard;
mod import;
mod live;
mod logs;
#[cfg(all(feature = "tracing", feature = "metrics"))]
mod observe;
mod outbox;
#[cfg(all(feature = "reqwest", feature = "sqlite"))]
mod routing;
mod schemes;
mod security;
mod send;
mod sign;
mod stores;
mod tenant;
mod tool;
#[cfg(feature = "reqwest")]
mod transport;
mod turn;

// The `webhookctl check-url` command, compiled into the tests so they drive the real code.
#[allow(dead_code)]
#[path = "../../examples/webhookctl/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../../examples/webhookctl/check_url.rs"]
mod check_url;
#[cfg(feature = "reqwest")]
#[allow(dead_code)]
#[path = "../../examples/webhookctl/request.rs"]
mod request;

/// A directory of its own under the system's temp dir, removed with everything in it when
/// dropped, also when the test fails.
#[cfg(feature = "sqlite")]
pub struct TempDir(std::path::PathBuf);

#[cfg(feature = "sqlite")]
impl TempDir {
    /// `aw-<name>-<pid>`, emptied first.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A path inside it.
    pub fn join(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
