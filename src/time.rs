//! Time as the crate sees it: a monotonic [`Instant`] the driver passes in. This is the
//! one place time comes from; nothing in the crate reads a clock.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on a monotonic timeline whose epoch the driver chooses: the start of the
/// program, the start of a simulation, anything that does not move backwards.
///
/// Every input of a role machine takes the current `Instant`; a value earlier than one
/// already seen is treated as the latest one seen, never a panic.
///
/// ```
/// use core::time::Duration;
/// use mqtt_sansio::Instant;
///
/// let start = Instant::ZERO;
/// let later = start + Duration::from_millis(1500);
/// assert_eq!(later.saturating_duration_since(start), Duration::from_millis(1500));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// assert_eq!(later, Instant::from_millis(1500));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_epoch` after the epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Instant(since_epoch)
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(Duration::from_millis(millis))
    }

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Instant(Duration::from_secs(secs))
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + duration`, or `None` past the end of the timeline.
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self + duration`, clamped at the end of the timeline.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(duration))
    }

    /// Converts a `std::time::Instant`, measuring from `origin` (taken once by the
    /// driver when it starts). Instants before `origin` map to the epoch.
    ///
    /// ```
    /// let origin = std::time::Instant::now();
    /// let now = mqtt_sansio::Instant::from_std(origin, origin + std::time::Duration::from_secs(2));
    /// assert_eq!(now, mqtt_sansio::Instant::from_secs(2));
    /// ```
    #[cfg(feature = "std")]
    pub fn from_std(origin: std::time::Instant, now: std::time::Instant) -> Self {
        Instant(now.saturating_duration_since(origin))
    }

    /// The `std::time::Instant` this instant stands for, given the same `origin` that
    /// [`Instant::from_std`] used; drivers use it to sleep until a deadline.
    #[cfg(feature = "std")]
    pub fn to_std(self, origin: std::time::Instant) -> std::time::Instant {
        origin + self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of the timeline instead of overflowing.
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.0)
    }
}
