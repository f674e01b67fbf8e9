//! The tests that read the library's logs: the process's global tracing subscriber captures
//! every line at TRACE, so they live in a binary of their own (no other test's logs reach the
//! capture) and take turns (each one reads only the lines written while it ran).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[path = "../common/mod.rs"]
mod common;

mod echoed_secrets;
mod no_secrets_in_logs;

/// Where the subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One test's turn at the logs: the lines written since it began.
pub struct Logs {
    capture: Capture,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Logs {
    /// Every line logged since [`logs`] returned this.
    pub fn text(&self) -> String {
        String::from_utf8(self.capture.0.lock().unwrap().clone()).expect("UTF-8 logs")
    }
}

/// Installs the global subscriber (every event, at TRACE, without colours) the first time, waits
/// for the other tests of this binary to finish with it, and starts an empty capture.
pub async fn logs() -> Logs {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let capture = CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .expect("the only subscriber of this test binary");
        capture
    });
    let turn = TURN.lock().await;
    capture.0.lock().unwrap().clear();
    Logs {
        capture: capture.clone(),
        _turn: turn,
    }
}
