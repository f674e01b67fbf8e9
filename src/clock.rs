//! Time, injected: the one clock and the one sleep that the client (between retries), the
//! waiters and the upgrade driver (between polls, for deadlines and pre-check expiry) use.
//!
//! The default, [`SystemClock`], is the machine's time. A test hands the client another one
//! with [`ClientBuilder::clock`](crate::ClientBuilder::clock) — the emulator's
//! (`Emulator::clock`, feature `emulator`) moves its own clock instead of
//! waiting, so a whole upgrade with the default poll intervals takes no real time. Request
//! signing always uses the machine's time: the API gateway checks it against its own.
//!
//! ```
//! use std::{future::Future, pin::Pin, sync::Arc, time::{Duration, SystemTime}};
//! use cce_upgrade::clock::Clock;
//!
//! /// A clock that never waits (time stands still).
//! #[derive(Debug)]
//! struct Frozen(SystemTime);
//!
//! impl Clock for Frozen {
//!     fn now(&self) -> SystemTime {
//!         self.0
//!     }
//!     fn sleep(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
//!         Box::pin(async {})
//!     }
//! }
//! let clock: Arc<dyn Clock> = Arc::new(Frozen(SystemTime::UNIX_EPOCH));
//! # let _ = clock;
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

/// A source of "now" and a way to wait, as the client, the waiters and the driver see time.
///
/// `now` must not go backwards; `sleep(d)` must end once `now` has moved by at least `d` (a
/// clock of its own may move itself forward and end at once).
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The machine's time: the wall clock when the clock was made, moved on by a monotonic clock
/// (so `now` never goes backwards when the wall clock is set back), and tokio's sleep.
#[derive(Clone, Copy)]
pub struct SystemClock {
    wall: SystemTime,
    mono: Instant,
}

impl SystemClock {
    /// A clock that reads the machine's time from now on.
    pub fn new() -> Self {
        SystemClock {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemClock")
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        self.wall + self.mono.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// `later - earlier`, or zero when `later` is not later.
pub(crate) fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_never_goes_back() {
        let clock = SystemClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
        assert_eq!(format!("{clock:?}"), "SystemClock");
    }

    #[test]
    fn since_is_zero_when_not_later() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(since(t, t + Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(since(t + Duration::from_secs(3), t), Duration::from_secs(3));
    }
}
