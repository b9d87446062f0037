//! Running many independent items at once: a concurrency limit, results in the items'
//! order, one deadline, and a panicking item reported as a failure of that item rather than
//! dropped (so a bug can never turn into "every item succeeded").

use crate::retry::Deadline;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A signal that asks a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (how CircleCI cancels a job, before SIGKILL).
    Terminate,
}

impl Signal {
    /// `SIGINT` / `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The signals received so far.
#[derive(Debug, Clone, Copy, Default)]
struct Received {
    first: Option<Signal>,
    last: Option<Signal>,
}

/// A request to stop a run (SIGINT/SIGTERM, see `cli::stop_on_signals`): work checks
/// [`Stop::requested`] before starting something new, races [`Stop::wait`], or (a run that
/// waits for a child process) passes each [`Stop::next`] signal on to the child.
#[derive(Debug, Clone)]
pub struct Stop(tokio::sync::watch::Receiver<Received>);

/// Fires a [`Stop`]: [`StopSender::signal`] once per signal received.
#[derive(Debug)]
pub struct StopSender(tokio::sync::watch::Sender<Received>);

impl StopSender {
    /// `signal` was received.
    pub fn signal(&self, signal: Signal) {
        self.0.send_modify(|r| {
            r.first.get_or_insert(signal);
            r.last = Some(signal);
        });
    }
}

impl Stop {
    /// A stop fired by the returned sender.
    pub fn channel() -> (StopSender, Stop) {
        let (tx, rx) = tokio::sync::watch::channel(Received::default());
        (StopSender(tx), Stop(rx))
    }

    /// A stop that never fires (a run nobody can interrupt: tests, embedding programs).
    pub fn never() -> Stop {
        Stop::channel().1
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.borrow().first.is_some()
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<Signal> {
        self.0.borrow().first
    }

    /// Resolves when a stop is asked for; never, once the sender is gone without one.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|r| r.first.is_some()).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Forgets the signals received so far for [`Stop::next`].
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// The next signal received after those this handle has seen (several received at
    /// once count as one); never, once the sender is gone.
    pub async fn next(&mut self) -> Signal {
        match self.0.changed().await {
            Ok(()) => self.0.borrow_and_update().last.unwrap_or(Signal::Interrupt),
            Err(_) => std::future::pending().await,
        }
    }
}

/// What a run does with SIGINT/SIGTERM, chosen by the run and passed to the caller's
/// [`OnSignals`].
#[derive(Debug, Clone)]
pub enum StopKind {
    /// The run stops its own work: the first signal fires the [`Stop`] after logging
    /// `first` (what the run does now); a second exits at once after printing `second`
    /// (what may be left). park, ecr-tags, verify-endpoints.
    Finish {
        /// What the run does on the first signal.
        first: String,
        /// What stopping at once may leave: read when the second signal comes, so a run
        /// can say more once it knows more (run-task names the task it started).
        second: Arc<std::sync::Mutex<String>>,
    },
    /// The run waits for a child process that must stop by itself to release what it
    /// holds (Terraform and its state lock): every signal is passed to the run
    /// ([`Stop::next`]), which forwards it to the child; no signal exits at once, and
    /// nothing new starts after the first. tf-wrap.
    Forward,
}

impl StopKind {
    /// [`StopKind::Finish`].
    pub fn finish(first: String, second: String) -> StopKind {
        StopKind::Finish {
            first,
            second: Arc::new(std::sync::Mutex::new(second)),
        }
    }

    /// What a second signal prints, to be updated while the run goes on (`None` for
    /// [`StopKind::Forward`], where no signal exits at once).
    pub fn second_words(&self) -> Option<Arc<std::sync::Mutex<String>>> {
        match self {
            StopKind::Finish { second, .. } => Some(Arc::clone(second)),
            StopKind::Forward => None,
        }
    }
}

/// What a stop looks like, supplied by the caller: called with what the run does with a
/// signal, it returns the [`Stop`] that signals fire. The binaries pass
/// `cli::stop_on_signals` (SIGINT/SIGTERM); a test or an embedding program passes its own.
pub type OnSignals = fn(StopKind) -> Stop;

/// How a long run reports progress to whoever shows it. Library code calls it; the
/// binaries draw it (`cli::TerminalProgress`: a bar on a terminal, nothing in CI logs), so
/// no library depends on a progress-bar crate.
pub trait Progress: Send + Sync {
    /// `total` units of `what` begin.
    fn start(&self, total: u64, what: &str);
    /// `n` more finished.
    fn advance(&self, n: u64);
    /// Done or stopped: clear what was shown.
    fn finish(&self);
}

/// What the caller of a tool's run supplies: how progress is shown and what a stop
/// looks like. The same shape for every tool.
#[derive(Clone)]
pub struct Caller {
    /// The progress display.
    pub progress: std::sync::Arc<dyn Progress>,
    /// What a stop looks like.
    pub on_signals: OnSignals,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

/// Why an item has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    /// The item's task panicked: a bug.
    #[error("internal error (a bug; please report it): the task panicked: {0}")]
    Panicked(String),
    /// The deadline passed before the item finished (a backstop: items normally stop at
    /// the deadline by themselves, with a better reason).
    #[error("the deadline passed before it finished")]
    Deadline,
}

/// Runs `work` on every item, at most `concurrency` at once, each on its own task; returns
/// one result per item, in the items' order. An item still running at `deadline` is cut
/// ([`Lost::Deadline`]); a panic becomes [`Lost::Panicked`] with the panic's message.
/// `on_finished` is called as each item finishes (progress bars).
pub async fn run_bounded<I, T, F, Fut>(
    items: Vec<I>,
    concurrency: usize,
    deadline: Deadline,
    work: F,
    mut on_finished: impl FnMut(),
) -> Vec<Result<T, Lost>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index_of = HashMap::new();
    let count = items.len();
    for (index, item) in items.into_iter().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        let fut = work(item);
        let handle = tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            match deadline.instant() {
                Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
                None => Some(fut.await),
            }
        });
        index_of.insert(handle.id(), index);
    }
    let mut results: Vec<Option<Result<T, Lost>>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next_with_id().await {
        let (id, result) = match joined {
            Ok((id, Some(v))) => (id, Ok(v)),
            Ok((id, None)) => (id, Err(Lost::Deadline)),
            Err(e) => {
                let id = e.id();
                let message = if e.is_panic() {
                    panic_message(e.into_panic())
                } else {
                    "the task was cancelled".to_owned()
                };
                (id, Err(Lost::Panicked(message)))
            }
        };
        if let Some(&i) = index_of.get(&id) {
            results[i] = Some(result);
        }
        on_finished();
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Lost::Panicked("no result was recorded".into()))))
        .collect()
}

/// The message a panic carried (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "a panic without a message".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A stop remembers the first signal (what `requested` and `wait` report), and a
    /// forwarding handle sees each later signal once through `next`; one that never fires
    /// stays quiet.
    #[tokio::test]
    async fn a_stop_keeps_the_first_signal_and_hands_on_each_later_one() {
        let (tx, stop) = Stop::channel();
        let mut forwarding = stop.clone();
        forwarding.mark_seen();
        assert!(!stop.requested());
        assert_eq!(stop.signal(), None);
        let quiet = tokio::time::timeout(Duration::from_millis(20), forwarding.next()).await;
        assert!(quiet.is_err(), "no signal yet");

        tx.signal(Signal::Terminate);
        assert!(stop.requested());
        assert_eq!(stop.signal(), Some(Signal::Terminate));
        stop.wait().await;
        assert_eq!(forwarding.next().await, Signal::Terminate);
        let seen = tokio::time::timeout(Duration::from_millis(20), forwarding.next()).await;
        assert!(seen.is_err(), "a signal is handed on once");

        tx.signal(Signal::Interrupt);
        assert_eq!(forwarding.next().await, Signal::Interrupt);
        assert_eq!(
            stop.signal(),
            Some(Signal::Terminate),
            "the first one stays"
        );

        let never = Stop::never();
        assert!(!never.requested());
        let waited = tokio::time::timeout(Duration::from_millis(20), never.wait()).await;
        assert!(waited.is_err(), "a stop nobody can fire never fires");
    }

    #[tokio::test]
    async fn results_keep_the_items_order_and_the_limit_holds() {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut finished = 0;
        let results = run_bounded(
            (0..20u64).collect(),
            3,
            Deadline::none(),
            |i| {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                async move {
                    use std::sync::atomic::Ordering::SeqCst;
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    // Later items finish first.
                    tokio::time::sleep(Duration::from_millis(40 - 2 * i)).await;
                    running.fetch_sub(1, SeqCst);
                    i * 10
                }
            },
            || finished += 1,
        )
        .await;
        let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, (0..20).map(|i| i * 10).collect::<Vec<_>>());
        assert!(most.load(std::sync::atomic::Ordering::SeqCst) <= 3);
        assert_eq!(finished, 20);
    }

    #[tokio::test]
    async fn a_panicking_item_is_a_failure_of_that_item_with_its_message() {
        let results = run_bounded(
            vec!["portal", "prefect-server", "prefect-worker"],
            2,
            Deadline::none(),
            |name| async move {
                if name == "prefect-server" {
                    panic!("index out of bounds in {name}");
                }
                name.len()
            },
            || {},
        )
        .await;
        assert_eq!(results[0], Ok(6));
        assert_eq!(
            results[1],
            Err(Lost::Panicked(
                "index out of bounds in prefect-server".into()
            ))
        );
        assert_eq!(results[2], Ok(14));
        assert!(results[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("a bug"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_item_still_running_at_the_deadline_is_cut() {
        let results = run_bounded(
            vec![1u64, 100],
            2,
            Deadline::after(Duration::from_secs(10)),
            |s| async move {
                tokio::time::sleep(Duration::from_secs(s)).await;
                s
            },
            || {},
        )
        .await;
        assert_eq!(results, [Ok(1), Err(Lost::Deadline)]);
    }
}
