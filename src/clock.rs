//! Wall-clock time for what the clouds date: when temporary credentials expire. Sits
//! beside the data flow: the credential sources read it to decide when to refresh, and
//! the simulator reads it to date the credentials it issues.
//!
//! Production reads the system clock. Tests run on tokio's paused clock, where hours
//! pass in milliseconds; a clock that follows tokio's makes those hours pass for
//! credential expiry too, so refresh is tested without waiting.

use std::time::{Duration, SystemTime};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, Default)]
pub enum WallClock {
    /// The system clock.
    #[default]
    System,
    /// The system time when created, advanced as tokio's clock advances (paused or not).
    FollowsTokio {
        /// The wall time at `at`.
        wall: SystemTime,
        /// tokio's clock when created.
        at: tokio::time::Instant,
    },
}

impl WallClock {
    /// A clock that follows tokio's from now on; it must be created inside a runtime.
    pub fn follows_tokio() -> Self {
        WallClock::FollowsTokio {
            wall: SystemTime::now(),
            at: tokio::time::Instant::now(),
        }
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        match self {
            WallClock::System => SystemTime::now(),
            WallClock::FollowsTokio { wall, at } => *wall + at.elapsed(),
        }
    }

    /// How long until `then` (zero when past).
    pub fn until(&self, then: SystemTime) -> Duration {
        then.duration_since(self.now()).unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_a_paused_tokio_clock() {
        let clock = WallClock::follows_tokio();
        let start = clock.now();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let elapsed = clock.now().duration_since(start).unwrap();
        assert!(elapsed >= Duration::from_secs(3600) && elapsed < Duration::from_secs(3601));
        assert_eq!(clock.until(start), Duration::ZERO);
    }
}
