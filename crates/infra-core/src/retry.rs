//! Retrying until the run's deadline: one policy for AWS calls, waits, polls and retried
//! commands.
//!
//! - [`Deadline`]: the moment a run must be finished by (`--deadline`), or none (each AWS
//!   call is then bounded by the SDK's operation timeout alone).
//! - AWS calls: the SDK's standard retry strategy does the retrying — its classifiers
//!   (throttling codes, 5xx, connection resets and timeouts), capped exponential backoff with
//!   full jitter, the adaptive mode's client-side rate limiting when asked for — with no
//!   attempt cap unless `--max-attempts` sets one, and [`DeadlineClassifier`] forbidding a
//!   retry whose backoff could end past the deadline. [`crate::aws_client!`] builds every
//!   service client that way.
//! - Everything else that retries or polls ([`until`]): a closure says `Done`, `Again` (a
//!   transient failure, or "not yet") or `Fail`; [`Backoff`] spaces the tries, and the
//!   deadline ends them with the last reason.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The longest the SDK waits between two attempts of one AWS call; also how close to the
/// deadline a retry is still started.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The SDK's attempt cap when `--max-attempts` sets none: in effect no cap (the deadline or
/// the operation timeout comes first by far). Not `u32::MAX`: the SDK does work
/// proportional to the cap before the first request (measured: 0.7 s at ten million).
pub const UNCAPPED_ATTEMPTS: u32 = 10_000;

/// The first backoff of an AWS call (then doubling, with full jitter, up to [`MAX_BACKOFF`]).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// The longest duration any setting or flag takes (`--deadline`, `max_hold`, Terraform's
/// timeouts...): a year. Longer values are refused where they are read, so adding one to
/// the clock can never overflow. (`park hold --until 3h` is bounded by `max_hold` and
/// added with a checked sum.)
pub const LONGEST_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a duration such as `90s`, `5m` or `1h 30m`, at most [`LONGEST_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    match humantime::parse_duration(text) {
        Ok(d) if d <= LONGEST_DURATION => Ok(d),
        Ok(_) => Err(DurationError::TooLong),
        Err(e) => Err(DurationError::NotADuration(e.to_string())),
    }
}

/// Why a text is not a duration a setting takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration at all (humantime's reason).
    NotADuration(String),
    /// A duration longer than [`LONGEST_DURATION`].
    TooLong,
}

impl DurationError {
    /// The end of a sentence about the text (the caller names it first): "is not a
    /// duration such as EXAMPLES: why", or "is longer than a year…".
    pub fn predicate(&self, examples: &str) -> String {
        match self {
            DurationError::NotADuration(why) => {
                format!("is not a duration such as {examples}: {why}")
            }
            DurationError::TooLong => {
                "is longer than a year, the longest any duration setting takes".to_owned()
            }
        }
    }
}

/// When a run must be finished by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `duration` from now.
    pub fn after(duration: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(duration))
    }

    /// At `instant`.
    pub fn at(instant: Instant) -> Deadline {
        Deadline(Some(instant))
    }

    /// No run deadline: each AWS call is bounded by the operation timeout only.
    pub fn none() -> Deadline {
        Deadline(None)
    }

    /// The instant, if there is one.
    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    /// Time left; `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether something that takes `duration` would end at or past the deadline.
    pub fn too_close(&self, duration: Duration) -> bool {
        self.remaining().is_some_and(|left| left <= duration)
    }
}

/// An SDK retry classifier that forbids a retry once the run's deadline is closer than
/// [`MAX_BACKOFF`]: the backoff could end past it. It only ever vetoes a retry, so the
/// call's last error is what the caller sees.
#[derive(Debug, Clone)]
pub struct DeadlineClassifier {
    deadline: Deadline,
}

impl DeadlineClassifier {
    /// The classifier for `deadline`.
    pub fn new(deadline: Deadline) -> DeadlineClassifier {
        DeadlineClassifier { deadline }
    }
}

impl ClassifyRetry for DeadlineClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        // Forbidding a retry of a failure the other classifiers would not retry changes
        // nothing, so this does not depend on the order classifiers run in.
        if ctx.is_failed() && self.deadline.too_close(MAX_BACKOFF) {
            tracing::debug!("not retrying: the run's deadline is too close");
            return RetryAction::RetryForbidden;
        }
        RetryAction::NoActionIndicated
    }

    fn name(&self) -> &'static str {
        "run deadline"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Builds a service client from the shared `SdkConfig` with the toolkit's retry policy: the
/// configuration's retry settings (no attempt cap unless `--max-attempts` set one), a
/// [`DeadlineClassifier`] for `deadline`, and a retry partition of the client's own with an
/// unlimited retry quota — the deadline (or the operation timeout) bounds the retries, not a
/// quota that one large run under sustained throttling would empty.
///
/// ```ignore
/// let ecs = infra_core::aws_client!(aws_sdk_ecs, &config, deadline, "park-ecs");
/// ```
///
/// With `builder` instead of a configuration, the same on a service config builder the
/// caller has adjusted (a region or endpoint of its own).
#[macro_export]
macro_rules! aws_client {
    ($sdk:ident, builder $builder:expr, $deadline:expr, $partition:expr) => {
        $sdk::Client::from_conf(
            $builder
                .retry_partition(
                    $sdk::config::retry::RetryPartition::custom($partition)
                        .token_bucket($sdk::config::retry::TokenBucket::unlimited())
                        .build(),
                )
                .retry_classifier($crate::retry::DeadlineClassifier::new($deadline))
                .build(),
        )
    };
    ($sdk:ident, $config:expr, $deadline:expr, $partition:expr) => {
        $crate::aws_client!(
            $sdk,
            builder $sdk::config::Builder::from($config),
            $deadline,
            $partition
        )
    };
}

/// How far apart tries are: doubling from `initial` up to `max` (a fixed schedule: these
/// waits are logged and read; the SDK's own backoff for AWS calls has full jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Before the second try.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// Doubling from `initial` up to `max`.
    pub fn doubling(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max }
    }

    /// Every `interval` (a poll).
    pub fn constant(interval: Duration) -> Backoff {
        Backoff::doubling(interval, interval)
    }

    /// The wait after try `n` (1-based) failed.
    pub fn delay(&self, n: u32) -> Duration {
        self.initial
            .checked_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// What one try came to.
#[derive(Debug)]
pub enum Try<T, E> {
    /// Finished.
    Done(T),
    /// Not yet, or a transient failure: try again if the deadline allows.
    Again(E),
    /// Not yet, and the other side said how long to wait (HTTP `Retry-After`): that wait
    /// instead of the backoff's, if the deadline allows.
    AgainIn(E, Duration),
    /// A failure that another try will not mend.
    Fail(E),
}

/// Why [`until`] stopped without success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped<E> {
    /// A try failed for good.
    Failed(E),
    /// The deadline (or the attempt cap) left no room for another try; the last reason.
    Exhausted {
        /// The last try's reason.
        last: E,
        /// Tries made.
        tries: u32,
    },
}

impl<E> Stopped<E> {
    /// The reason, however it stopped.
    pub fn into_inner(self) -> E {
        match self {
            Stopped::Failed(e) | Stopped::Exhausted { last: e, .. } => e,
        }
    }
}

/// Tries `attempt` (given the 1-based try number) until it is `Done` or `Fail`s, waiting
/// `backoff` between tries, for at most `max_tries` tries (`None`: no cap), and never
/// starting a wait that would end past `deadline`.
///
/// `on_again` sees each transient reason and the wait before the next try (for a log line).
pub async fn until<T, E, F, Fut>(
    deadline: Deadline,
    backoff: Backoff,
    max_tries: Option<u32>,
    mut on_again: impl FnMut(&E, u32, Duration),
    mut attempt: F,
) -> Result<T, Stopped<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Try<T, E>>,
{
    let mut n = 1;
    loop {
        let (e, wait) = match attempt(n).await {
            Try::Done(v) => return Ok(v),
            Try::Fail(e) => return Err(Stopped::Failed(e)),
            Try::Again(e) => (e, backoff.delay(n)),
            Try::AgainIn(e, wait) => (e, wait),
        };
        if max_tries.is_some_and(|m| n >= m) || deadline.too_close(wait) {
            return Err(Stopped::Exhausted { last: e, tries: n });
        }
        on_again(&e, n, wait);
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_by_a_year_so_the_clock_never_overflows() {
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("366d"), Ok(LONGEST_DURATION));
        assert_eq!(
            parse_duration("2600000000000000h"),
            Err(DurationError::TooLong)
        );
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(DurationError::NotADuration(_))
        ));
        // What is accepted can be added to any clock reading this century.
        assert!(Instant::now().checked_add(LONGEST_DURATION).is_some());
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let b = Backoff::doubling(Duration::from_secs(2), Duration::from_secs(30));
        let delays: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 30, 30]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        assert_eq!(
            Backoff::constant(Duration::from_secs(5)).delay(9).as_secs(),
            5
        );
    }

    #[tokio::test(start_paused = true)]
    async fn until_retries_transient_failures_until_the_deadline_with_the_last_reason() {
        let started = Instant::now();
        let deadline = Deadline::after(Duration::from_secs(60));
        let r: Result<(), _> = until(
            deadline,
            Backoff::constant(Duration::from_secs(10)),
            None,
            |_, _, _| {},
            |n| async move { Try::<(), _>::Again(format!("not yet ({n})")) },
        )
        .await;
        // Tries at 0, 10, ... 50 s; the wait after the 6th would end past 60 s.
        assert_eq!(
            r,
            Err(Stopped::Exhausted {
                last: "not yet (6)".to_owned(),
                tries: 6
            })
        );
        assert_eq!(started.elapsed(), Duration::from_secs(50));
    }

    /// A wait the other side asks for (`Retry-After`) replaces the backoff's, and the
    /// deadline still bounds it.
    #[tokio::test(start_paused = true)]
    async fn until_waits_as_long_as_the_other_side_asks_within_the_deadline() {
        let started = Instant::now();
        let r: Result<u32, _> = until(
            Deadline::after(Duration::from_secs(60)),
            Backoff::constant(Duration::from_secs(1)),
            None,
            |_, _, _| {},
            |n| async move {
                match n {
                    1 => Try::AgainIn("busy", Duration::from_secs(20)),
                    _ => Try::Done(n),
                }
            },
        )
        .await;
        assert_eq!(r, Ok(2));
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        let r: Result<u32, _> = until(
            Deadline::after(Duration::from_secs(60)),
            Backoff::constant(Duration::from_secs(1)),
            None,
            |_, _, _| {},
            |_| async { Try::AgainIn("busy", Duration::from_secs(90)) },
        )
        .await;
        assert_eq!(
            r,
            Err(Stopped::Exhausted {
                last: "busy",
                tries: 1
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn until_stops_at_once_on_a_lasting_failure_and_at_the_attempt_cap() {
        let r: Result<u32, _> = until(
            Deadline::none(),
            Backoff::constant(Duration::from_secs(1)),
            None,
            |_, _, _| {},
            |n| async move {
                if n < 3 {
                    Try::Again("throttled")
                } else {
                    Try::Fail("access denied")
                }
            },
        )
        .await;
        assert_eq!(r, Err(Stopped::Failed("access denied")));
        let mut seen = Vec::new();
        let r: Result<u32, _> = until(
            Deadline::none(),
            Backoff::constant(Duration::from_secs(1)),
            Some(3),
            |e: &&str, n, _| seen.push(format!("{n}: {e}")),
            |_| async { Try::Again("throttled") },
        )
        .await;
        assert_eq!(
            r,
            Err(Stopped::Exhausted {
                last: "throttled",
                tries: 3
            })
        );
        assert_eq!(seen, ["1: throttled", "2: throttled"]);
        let ok: Result<u32, Stopped<&str>> = until(
            Deadline::none(),
            Backoff::constant(Duration::from_secs(1)),
            None,
            |_, _, _| {},
            |n| async move {
                if n == 2 {
                    Try::Done(n)
                } else {
                    Try::Again("x")
                }
            },
        )
        .await;
        assert_eq!(ok, Ok(2));
    }
}
