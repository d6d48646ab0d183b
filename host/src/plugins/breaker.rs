//! A circuit breaker per plugin version: a plugin that keeps running into its deadline is
//! failed fast for a while instead of being called again.
//!
//! Why: a call that runs to its deadline holds one of the server's plugin permits (and a
//! blocking thread) for the whole deadline. Under load, one plugin looping on every call takes
//! every permit, and the other plugins' on-demand views queue behind it: their latency goes from
//! a fraction of a millisecond to the deadline, and their throughput collapses. Failing the
//! broken plugin in microseconds keeps the permits for the others.
//!
//! Only deadline hits count: a trap or a plugin's own error returns at once and costs the
//! others nothing. The breaker opens after [`TRIP_HITS`] deadline hits within [`WINDOW`]
//! (whatever succeeded in between: a plugin that hangs on one input in three is as harmful as
//! one that always does). Open, every call fails fast for the cooldown; then one call is let
//! through as a trial: if it finishes in time the breaker closes, if it hits the deadline again
//! the breaker reopens for twice the cooldown, up to [`MAX_COOLDOWN`]. A new version of the
//! plugin starts closed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Deadline hits within [`WINDOW`] that open the breaker.
pub const TRIP_HITS: usize = 5;
/// How far back deadline hits count.
pub const WINDOW: Duration = Duration::from_secs(10);
/// How long the breaker first stays open.
pub const COOLDOWN: Duration = Duration::from_secs(5);
/// The longest it stays open after repeated failed trials.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(60);

/// How a call ended, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stopped at its deadline.
    Deadline,
    /// Anything else: a result, or a failure that cost no time.
    Finished,
}

/// Why a call was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Deadline hits that opened the breaker.
    pub hits: usize,
    /// Until the next trial call (zero while a trial is running).
    pub retry_in: Duration,
}

/// The breaker's state, for `GET /plugins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerReport {
    /// `closed`, `open` or `half_open` (a trial call running).
    pub state: &'static str,
    /// Deadline hits within the window.
    pub recent_deadline_hits: usize,
    /// How long it stays open (open only).
    pub retry_in: Option<Duration>,
    /// Times it opened since this version was loaded.
    pub trips: u64,
    /// Calls refused since this version was loaded.
    pub refused: u64,
}

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
        cooldown: Duration,
    },
    /// A trial call is running; `cooldown` is what the next opening lasts if it fails.
    HalfOpen {
        cooldown: Duration,
    },
}

#[derive(Debug)]
struct Inner {
    state: State,
    hits: VecDeque<Instant>,
    trips: u64,
    refused: u64,
}

/// One plugin version's breaker.
///
/// It sits on every transform call, so a closed breaker costs one atomic load per call and
/// per outcome: only a deadline hit, or a breaker that has opened, takes the lock (or reads
/// the clock).
#[derive(Debug)]
pub struct Breaker {
    /// Whether the state is anything but closed; written under the lock.
    tripped: AtomicBool,
    inner: Mutex<Inner>,
}

impl Default for Breaker {
    fn default() -> Breaker {
        Breaker {
            tripped: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                state: State::Closed,
                hits: VecDeque::with_capacity(TRIP_HITS),
                trips: 0,
                refused: 0,
            }),
        }
    }
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a call may run now (`now` is read only when the breaker is not closed). An open
    /// breaker whose cooldown has passed lets this one call through as its trial.
    pub fn admit(&self, now: impl FnOnce() -> Instant) -> Result<(), Refused> {
        if !self.tripped.load(Ordering::Acquire) {
            return Ok(());
        }
        let now = now();
        let mut inner = self.lock();
        let refused = match inner.state {
            State::Closed => return Ok(()),
            State::Open { until, cooldown } if now >= until => {
                inner.state = State::HalfOpen { cooldown };
                return Ok(());
            }
            State::Open { until, .. } => Refused {
                hits: TRIP_HITS,
                retry_in: until - now,
            },
            State::HalfOpen { .. } => Refused {
                hits: TRIP_HITS,
                retry_in: Duration::ZERO,
            },
        };
        inner.refused += 1;
        Err(refused)
    }

    /// Records how an admitted call ended (`now` is read only when it matters); true when this
    /// opened the breaker.
    pub fn record(&self, now: impl FnOnce() -> Instant, outcome: Outcome) -> bool {
        if outcome == Outcome::Finished && !self.tripped.load(Ordering::Acquire) {
            return false;
        }
        let now = now();
        let mut inner = self.lock();
        let opened = Self::step(&mut inner, now, outcome);
        let tripped = !matches!(inner.state, State::Closed);
        self.tripped.store(tripped, Ordering::Release);
        opened
    }

    /// The transition for `outcome` at `now`; true when it opened the breaker.
    fn step(inner: &mut Inner, now: Instant, outcome: Outcome) -> bool {
        match (&inner.state, outcome) {
            (State::HalfOpen { .. }, Outcome::Finished) => {
                inner.state = State::Closed;
                inner.hits.clear();
                false
            }
            (State::HalfOpen { cooldown }, Outcome::Deadline) => {
                let cooldown = *cooldown;
                inner.state = State::Open {
                    until: now + cooldown,
                    cooldown: (cooldown * 2).min(MAX_COOLDOWN),
                };
                inner.trips += 1;
                true
            }
            (State::Closed, Outcome::Deadline) => {
                while inner.hits.front().is_some_and(|t| now - *t > WINDOW) {
                    inner.hits.pop_front();
                }
                inner.hits.push_back(now);
                if inner.hits.len() < TRIP_HITS {
                    return false;
                }
                inner.hits.clear();
                inner.state = State::Open {
                    until: now + COOLDOWN,
                    cooldown: (COOLDOWN * 2).min(MAX_COOLDOWN),
                };
                inner.trips += 1;
                true
            }
            // Calls admitted before the breaker opened, finishing after: already counted.
            _ => false,
        }
    }

    /// The state at `now`.
    pub fn report(&self, now: Instant) -> BreakerReport {
        let inner = self.lock();
        let recent = inner
            .hits
            .iter()
            .filter(|t| now.saturating_duration_since(**t) <= WINDOW)
            .count();
        let (state, retry_in) = match inner.state {
            State::Closed => ("closed", None),
            State::Open { until, .. } => ("open", Some(until.saturating_duration_since(now))),
            State::HalfOpen { .. } => ("half_open", None),
        };
        BreakerReport {
            state,
            recent_deadline_hits: recent,
            retry_in,
            trips: inner.trips,
            refused: inner.refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(b: &Breaker, at: Instant) -> bool {
        b.admit(|| at).unwrap();
        b.record(|| at, Outcome::Deadline)
    }

    #[test]
    fn it_opens_after_enough_deadline_hits_in_the_window_and_fails_fast() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..TRIP_HITS - 1 {
            assert!(!hit(&b, t0 + Duration::from_millis(i as u64)));
            // Successes in between do not reset the count.
            b.admit(|| t0).unwrap();
            b.record(|| t0, Outcome::Finished);
        }
        assert!(hit(&b, t0 + Duration::from_millis(10)));
        let refused = b.admit(|| t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(refused.hits, TRIP_HITS);
        assert!(refused.retry_in <= COOLDOWN && refused.retry_in > Duration::from_secs(3));
        let r = b.report(t0 + Duration::from_secs(1));
        assert_eq!((r.state, r.trips, r.refused), ("open", 1, 1));
    }

    #[test]
    fn hits_spread_wider_than_the_window_never_open_it() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..50u64 {
            // At most 4 within any 10 s.
            assert!(!hit(&b, t0 + WINDOW / 3 * i as u32));
        }
        assert_eq!(b.report(t0).state, "closed");
    }

    #[test]
    fn a_trial_closes_it_or_reopens_it_for_longer() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..TRIP_HITS {
            hit(&b, t0);
        }
        // After the cooldown, one trial and only one.
        let t1 = t0 + COOLDOWN;
        b.admit(|| t1).unwrap();
        assert_eq!(b.admit(|| t1).unwrap_err().retry_in, Duration::ZERO);
        assert_eq!(b.report(t1).state, "half_open");
        // The trial hits the deadline: open for twice as long.
        assert!(b.record(|| t1, Outcome::Deadline));
        assert!(
            b.admit(|| t1 + COOLDOWN * 2 - Duration::from_millis(1))
                .is_err()
        );
        let t2 = t1 + COOLDOWN * 2;
        b.admit(|| t2).unwrap();
        b.record(|| t2, Outcome::Finished);
        assert_eq!(b.report(t2).state, "closed");
        b.admit(|| t2).unwrap();
        assert_eq!(b.report(t2).trips, 2);
    }

    #[test]
    fn the_cooldown_stops_growing_at_its_maximum() {
        let b = Breaker::default();
        let mut t = Instant::now();
        for _ in 0..TRIP_HITS {
            hit(&b, t);
        }
        for _ in 0..10 {
            let retry = b.admit(|| t).unwrap_err().retry_in;
            assert!(retry <= MAX_COOLDOWN);
            t += retry;
            hit(&b, t);
        }
        assert_eq!(b.admit(|| t).unwrap_err().retry_in, MAX_COOLDOWN);
    }
}
