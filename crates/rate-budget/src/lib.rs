//! One client-side AWS rate budget per account and Region.
//!
//! AWS throttles each account's calls per Region with token buckets, one per throttling
//! category (ECS: "service modify", "resource tag modify", the describes…). Several
//! environments parked in one run spend the same buckets; each retrying on its own, they
//! send calls only to have them throttled, and every retry spends a token another call
//! needed. A [`Budget`] holds the client-side copy of those buckets:
//!
//! - [`Budget::acquire`] waits for a token of the call's category before the call is sent
//!   (at the call site, so the wait does not count against the SDK's operation timeout),
//!   in the order the calls asked: no environment starves.
//! - The [`BudgetedHttpClient`] every SDK client of the run sends through counts each
//!   attempt: a first attempt uses the token its call site acquired; a retry (or a call no
//!   call site acquired for) waits for a token of its own, ahead of the queue.
//! - A throttling answer lowers the category's rate (someone else is spending the same
//!   bucket) and empties the client-side bucket; the rate climbs back to the preset while
//!   nothing is throttled.
//!
//! The presets are AWS's published sizes ([`Category::published`]); an environment file
//! may change them for an account with raised limits (`rate_budget "CATEGORY" { … }`,
//! [`check`]). [`shared`] hands every environment of one account and Region the same
//! budget.
//!
//! ```
//! use rate_budget::{Category, BucketSize};
//! assert_eq!(Category::of("ecs", "UpdateService"), Some(Category::EcsServiceModify));
//! assert_eq!(Category::EcsServiceModify.published(), BucketSize { burst: 50.0, per_second: 5.0 });
//! assert_eq!(Category::of("sts", "GetCallerIdentity"), None);
//! ```

mod http;

pub use http::BudgetedHttpClient;

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

/// An AWS throttling category: the calls that spend one token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// ECS "service modify": CreateService, UpdateService, DeleteService.
    EcsServiceModify,
    /// ECS "resource tag modify": TagResource, UntagResource.
    EcsTagModify,
    /// ECS describes and lists (DescribeServices, DescribeClusters, ListTagsForResource…).
    EcsRead,
    /// Application Auto Scaling's changes (RegisterScalableTarget…): it publishes no sizes,
    /// so EC2's model of a mutating bucket.
    AutoScalingModify,
    /// Application Auto Scaling's describes, on EC2's model of a non-mutating bucket.
    AutoScalingRead,
}

impl Category {
    /// Every category, in the order reports list them.
    pub const ALL: [Category; 5] = [
        Category::EcsServiceModify,
        Category::EcsTagModify,
        Category::EcsRead,
        Category::AutoScalingModify,
        Category::AutoScalingRead,
    ];

    /// The name an environment file's `rate_budget "NAME"` block uses.
    pub fn name(self) -> &'static str {
        match self {
            Category::EcsServiceModify => "ecs-service-modify",
            Category::EcsTagModify => "ecs-tag-modify",
            Category::EcsRead => "ecs-read",
            Category::AutoScalingModify => "autoscaling-modify",
            Category::AutoScalingRead => "autoscaling-read",
        }
    }

    /// The category named `name` (see [`Category::name`]).
    pub fn named(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The category of `service`'s `operation` (`"ecs"`, `"UpdateService"`); `None` for a
    /// call no budget meters (STS, S3, DynamoDB, RDS, ECS's task calls…).
    pub fn of(service: &str, operation: &str) -> Option<Category> {
        let read = ["Describe", "List", "Get"]
            .iter()
            .any(|p| operation.starts_with(p));
        match service {
            "ecs" => match operation {
                "CreateService" | "UpdateService" | "DeleteService" => {
                    Some(Category::EcsServiceModify)
                }
                "TagResource" | "UntagResource" => Some(Category::EcsTagModify),
                _ if read => Some(Category::EcsRead),
                _ => None,
            },
            "application-autoscaling" if read => Some(Category::AutoScalingRead),
            "application-autoscaling" => Some(Category::AutoScalingModify),
            _ => None,
        }
    }

    /// AWS's sizes: ECS's published buckets; for Application Auto Scaling, which publishes
    /// none, EC2's (mutating 50 / 5, non-mutating 100 / 20).
    pub fn published(self) -> BucketSize {
        let (burst, per_second) = match self {
            Category::EcsServiceModify => (50.0, 5.0),
            Category::EcsTagModify => (20.0, 10.0),
            Category::EcsRead => (100.0, 20.0),
            Category::AutoScalingModify => (50.0, 5.0),
            Category::AutoScalingRead => (100.0, 20.0),
        };
        BucketSize { burst, per_second }
    }
}

/// A token bucket's size: how many calls at once, and how many a second after that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSize {
    /// The bucket's capacity: calls that may be sent at once.
    pub burst: f64,
    /// Tokens added a second: the sustained rate.
    pub per_second: f64,
}

/// A `rate_budget "CATEGORY" { burst = N  per_second = R }` block as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    /// The bucket's capacity.
    #[serde(default)]
    pub burst: Option<i64>,
    /// Its refill rate, tokens a second.
    #[serde(default)]
    pub per_second: Option<f64>,
}

/// A problem in a `rate_budget` block: the key it is about (`None`: the label) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `"burst"`, `"per_second"`, or `None` for the block's label.
    pub key: Option<&'static str>,
    /// Why, in words.
    pub message: String,
}

/// The largest `burst` or `per_second` a block takes: far above any raised limit, low
/// enough that the arithmetic stays exact.
pub const LARGEST: f64 = 100_000.0;

/// Checks one `rate_budget "NAME"` block: a known category, a whole `burst` of at least 1,
/// a positive `per_second`, both at most [`LARGEST`]. What the block leaves out keeps
/// AWS's published size.
pub fn check(name: &str, raw: &RawBucket) -> (Option<(Category, BucketSize)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let Some(category) = Category::named(name) else {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        problems.push(Problem {
            key: None,
            message: format!(
                "`rate_budget \"{name}\"` is no throttling category (known: {})",
                known.join(", ")
            ),
        });
        return (None, problems);
    };
    let mut size = category.published();
    if let Some(burst) = raw.burst {
        if burst < 1 || burst as f64 > LARGEST {
            problems.push(Problem {
                key: Some("burst"),
                message: format!("`burst` must be 1 to {LARGEST}, not {burst}"),
            });
        } else {
            size.burst = burst as f64;
        }
    }
    if let Some(rate) = raw.per_second {
        if !(rate.is_finite() && rate > 0.0 && rate <= LARGEST) {
            problems.push(Problem {
                key: Some("per_second"),
                message: format!(
                    "`per_second` must be more than 0 and at most {LARGEST}, not {rate}"
                ),
            });
        } else {
            size.per_second = rate;
        }
    }
    let ok = problems.is_empty();
    (ok.then_some((category, size)), problems)
}

/// The share of a bucket's refill the budget spends: calls paced exactly at AWS's rate
/// arrive there with the network's jitter, and one that arrives a little early after one a
/// little late finds no token.
const PACE: f64 = 0.95;
/// How far a throttling answer lowers a category's rate (a factor), and the lowest share of
/// the preset it goes to.
const BACK_OFF: f64 = 0.75;
const LOWEST_SHARE: f64 = 0.25;
/// How fast the rate climbs back while nothing is throttled: this share of the preset a
/// second.
const RECOVERY_SHARE: f64 = 0.10;

/// The longest an attempt waits in the HTTP client for a token of its own (a retry: its
/// call site's token went to the first attempt). Past it the token is taken on debt.
pub const LONGEST_ATTEMPT_WAIT: Duration = Duration::from_secs(2);

/// What one bucket has done, for the run's log and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BucketStats {
    /// Attempts sent (first attempts and retries).
    pub attempts: u64,
    /// Attempts AWS answered with a throttling error.
    pub throttled: u64,
    /// Calls that waited for a token, and for how long in all.
    pub waited: u64,
    /// The total wait.
    pub wait: Duration,
    /// The rate now (lowered after throttling).
    pub rate: f64,
}

#[derive(Debug)]
struct BucketState {
    size: BucketSize,
    /// Tokens now.
    tokens: f64,
    rate: f64,
    /// The highest rate: [`PACE`] of the bucket's refill.
    ceiling: f64,
    last: Instant,
    /// Tokens acquired at call sites not yet used by an attempt.
    credits: u64,
    stats: BucketStats,
}

impl BucketState {
    fn new(size: BucketSize) -> BucketState {
        BucketState {
            size,
            tokens: size.burst,
            rate: size.per_second * PACE,
            ceiling: size.per_second * PACE,
            last: Instant::now(),
            credits: 0,
            stats: BucketStats::default(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.size.burst);
        self.rate = (self.rate + elapsed * RECOVERY_SHARE * self.ceiling).min(self.ceiling);
    }
}

#[derive(Debug)]
struct Bucket {
    state: Mutex<BucketState>,
    /// Waiters take turns in the order they came (tokio's mutex is fair).
    turn: tokio::sync::Mutex<()>,
}

/// The client-side buckets of one account and Region.
#[derive(Debug)]
pub struct Budget {
    buckets: HashMap<Category, Bucket>,
}

impl Budget {
    /// A budget with AWS's published sizes, except those in `sizes`.
    pub fn new(sizes: &[(Category, BucketSize)]) -> Budget {
        let buckets = Category::ALL
            .into_iter()
            .map(|c| {
                let size = sizes
                    .iter()
                    .find(|(k, _)| *k == c)
                    .map_or(c.published(), |(_, s)| *s);
                let bucket = Bucket {
                    state: Mutex::new(BucketState::new(size)),
                    turn: tokio::sync::Mutex::new(()),
                };
                (c, bucket)
            })
            .collect();
        Budget { buckets }
    }

    /// A budget that meters nothing: [`Budget::acquire`] returns at once (clients built
    /// without an environment, library tests).
    pub fn unmetered() -> Arc<Budget> {
        static UNMETERED: OnceLock<Arc<Budget>> = OnceLock::new();
        Arc::clone(UNMETERED.get_or_init(|| {
            Arc::new(Budget {
                buckets: HashMap::new(),
            })
        }))
    }

    /// Waits until `service`'s `operation` may be sent: a token of its category, taken in
    /// the order the calls asked. Cancellation-safe: a call dropped while waiting takes
    /// nothing. A call of no metered category returns at once.
    pub async fn acquire(&self, service: &str, operation: &str) {
        let Some(bucket) = Category::of(service, operation).and_then(|c| self.buckets.get(&c))
        else {
            return;
        };
        let _turn = bucket.turn.lock().await;
        let mut waited = Duration::ZERO;
        loop {
            let wait = {
                let mut s = bucket.state.lock().expect("bucket lock");
                let now = Instant::now();
                s.refill(now);
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    s.credits += 1;
                    tracing::trace!(
                        operation,
                        tokens = s.tokens,
                        rate = s.rate,
                        "token acquired"
                    );
                    if !waited.is_zero() {
                        s.stats.waited += 1;
                        s.stats.wait += waited;
                    }
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
            };
            let started = Instant::now();
            tokio::time::sleep(wait).await;
            waited += started.elapsed();
        }
    }

    /// An attempt of `category` is about to be sent: it uses a token acquired at a call
    /// site; a retry, or a call no call site acquired for, waits for a token of its own —
    /// ahead of the calls queued at call sites — but at most [`LONGEST_ATTEMPT_WAIT`]:
    /// this wait counts against the SDK's operation timeout, so past it the attempt takes
    /// its token on debt (the bucket goes below zero and the calls queued at call sites
    /// wait for it instead).
    async fn attempt(&self, category: Category) {
        let Some(bucket) = self.buckets.get(&category) else {
            return;
        };
        let started = Instant::now();
        loop {
            let wait = {
                let mut s = bucket.state.lock().expect("bucket lock");
                if s.credits > 0 {
                    s.credits -= 1;
                    s.stats.attempts += 1;
                    return;
                }
                let now = Instant::now();
                s.refill(now);
                if s.tokens >= 1.0 || now.duration_since(started) >= LONGEST_ATTEMPT_WAIT {
                    s.tokens -= 1.0;
                    s.stats.attempts += 1;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
                    .min(LONGEST_ATTEMPT_WAIT.saturating_sub(now.duration_since(started)))
            };
            tracing::trace!(
                category = category.name(),
                ?wait,
                "an attempt no call site acquired for waits for a token"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// AWS throttled an attempt of `category`: its bucket is empty whatever ours says, and
    /// someone else may be spending it, so the rate goes down.
    fn throttled(&self, category: Category) {
        let Some(bucket) = self.buckets.get(&category) else {
            return;
        };
        let mut s = bucket.state.lock().expect("bucket lock");
        s.refill(Instant::now());
        s.stats.throttled += 1;
        s.tokens = s.tokens.min(0.0);
        s.rate = (s.rate * BACK_OFF).max(s.ceiling * LOWEST_SHARE);
        tracing::debug!(
            category = category.name(),
            rate = s.rate,
            "throttled: rate lowered"
        );
    }

    /// What each bucket has done so far.
    pub fn stats(&self) -> Vec<(Category, BucketStats)> {
        let mut out: Vec<(Category, BucketStats)> = self
            .buckets
            .iter()
            .map(|(c, b)| {
                let s = b.state.lock().expect("bucket lock");
                (
                    *c,
                    BucketStats {
                        rate: s.rate,
                        ..s.stats
                    },
                )
            })
            .collect();
        out.sort_by_key(|(c, _)| *c);
        out
    }

    /// The sizes this budget uses, by category.
    pub fn sizes(&self) -> Vec<(Category, BucketSize)> {
        let mut out: Vec<(Category, BucketSize)> = self
            .buckets
            .iter()
            .map(|(c, b)| (*c, b.state.lock().expect("bucket lock").size))
            .collect();
        out.sort_by_key(|(c, _)| *c);
        out
    }
}

/// The budget of `account` in `region` for this process: every environment of a run in
/// the same account and Region gets the same one. The first to ask sets the sizes; a
/// later one whose `sizes` name another size for a category is warned about and gets the
/// shared one (the first environment's sizes hold for the run).
pub fn shared(account: &str, region: &str, sizes: &[(Category, BucketSize)]) -> Arc<Budget> {
    /// Budgets by (account, Region).
    type Budgets = Mutex<HashMap<(String, String), Arc<Budget>>>;
    static BUDGETS: OnceLock<Budgets> = OnceLock::new();
    let mut budgets = BUDGETS
        .get_or_init(Default::default)
        .lock()
        .expect("budgets lock");
    let key = (account.to_owned(), region.to_owned());
    if let Some(budget) = budgets.get(&key) {
        for (category, size) in sizes {
            let current = budget.buckets[category]
                .state
                .lock()
                .expect("bucket lock")
                .size;
            if current != *size {
                tracing::warn!(
                    category = category.name(),
                    "environments of account {account} in {region} set different `rate_budget` sizes; the run uses the first: burst {} / {} a second",
                    current.burst,
                    current.per_second
                );
            }
        }
        return Arc::clone(budget);
    }
    let budget = Arc::new(Budget::new(sizes));
    budgets.insert(key, Arc::clone(&budget));
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_park_makes_has_its_category() {
        for (service, op, category) in [
            ("ecs", "UpdateService", Some(Category::EcsServiceModify)),
            ("ecs", "TagResource", Some(Category::EcsTagModify)),
            ("ecs", "UntagResource", Some(Category::EcsTagModify)),
            ("ecs", "DescribeServices", Some(Category::EcsRead)),
            ("ecs", "ListTagsForResource", Some(Category::EcsRead)),
            ("ecs", "RunTask", None),
            (
                "application-autoscaling",
                "RegisterScalableTarget",
                Some(Category::AutoScalingModify),
            ),
            (
                "application-autoscaling",
                "DescribeScalableTargets",
                Some(Category::AutoScalingRead),
            ),
            ("rds", "StopDBCluster", None),
        ] {
            assert_eq!(Category::of(service, op), category, "{service}:{op}");
        }
        for c in Category::ALL {
            assert_eq!(Category::named(c.name()), Some(c));
        }
    }

    #[test]
    fn a_block_changes_what_it_names_and_refuses_what_is_not_a_size() {
        let (ok, problems) = check(
            "ecs-service-modify",
            &RawBucket {
                burst: Some(100),
                per_second: None,
            },
        );
        assert!(problems.is_empty());
        assert_eq!(
            ok,
            Some((
                Category::EcsServiceModify,
                BucketSize {
                    burst: 100.0,
                    per_second: 5.0
                }
            ))
        );
        let (ok, problems) = check(
            "ecs-read",
            &RawBucket {
                burst: Some(0),
                per_second: Some(f64::NAN),
            },
        );
        assert_eq!(ok, None);
        let keys: Vec<_> = problems.iter().map(|p| p.key).collect();
        assert_eq!(keys, [Some("burst"), Some("per_second")]);
        let (ok, problems) = check("ecs-write", &RawBucket::default());
        assert_eq!(ok, None);
        assert!(problems[0].message.contains("known: ecs-service-modify"));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_past_the_burst_wait_for_the_refill_in_the_order_they_asked() {
        let budget = Arc::new(Budget::new(&[(
            Category::EcsServiceModify,
            BucketSize {
                burst: 3.0,
                per_second: 2.0,
            },
        )]));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..7 {
            let (budget, order) = (Arc::clone(&budget), Arc::clone(&order));
            tasks.spawn(async move {
                budget.acquire("ecs", "UpdateService").await;
                budget.attempt(Category::EcsServiceModify).await;
                order.lock().unwrap().push((i, start.elapsed()));
            });
            // Ask in this order.
            tokio::task::yield_now().await;
        }
        while tasks.join_next().await.is_some() {}
        let order = order.lock().unwrap().clone();
        let indexes: Vec<_> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [0, 1, 2, 3, 4, 5, 6], "first come, first served");
        // Three at once, then one every half second (a little more: the pace is 95% of
        // the refill).
        let last = order.last().unwrap().1;
        assert!(
            last >= Duration::from_millis(2100) && last < Duration::from_millis(2150),
            "{last:?}"
        );
        assert!(order[2].1 < Duration::from_millis(10));
        let stats = budget.stats();
        assert_eq!(stats[0].1.attempts, 7);
        assert_eq!(stats[0].1.waited, 4);
        // An unmetered call never waits.
        budget.acquire("sts", "GetCallerIdentity").await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_waits_for_its_own_token_and_throttling_lowers_the_rate_until_it_recovers() {
        let size = BucketSize {
            burst: 2.0,
            per_second: 4.0,
        };
        let budget = Budget::new(&[(Category::EcsTagModify, size)]);
        let tag = Category::EcsTagModify;
        budget.acquire("ecs", "TagResource").await;
        budget.attempt(tag).await;
        // AWS throttled it: the bucket is emptied, the rate lowered.
        budget.throttled(tag);
        let rate = |b: &Budget| b.stats().iter().find(|(c, _)| *c == tag).unwrap().1.rate;
        assert!((rate(&budget) - 4.0 * 0.95 * 0.75).abs() < 1e-9);
        // Its retry (no call site acquired for it) waits for a token at the lowered rate.
        let start = Instant::now();
        budget.attempt(tag).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(350) && waited < Duration::from_millis(360),
            "{waited:?}"
        );
        // Many retries at once, the bucket empty: each waits at most two seconds for its
        // token, then takes it on debt, and the call sites pay it back.
        let start = Instant::now();
        for _ in 0..10 {
            budget.attempt(tag).await;
        }
        assert!(
            start.elapsed() <= LONGEST_ATTEMPT_WAIT * 10,
            "{:?}",
            start.elapsed()
        );
        let start = Instant::now();
        let mut retries = tokio::task::JoinSet::new();
        let budget = Arc::new(budget);
        for _ in 0..20 {
            let budget = Arc::clone(&budget);
            retries.spawn(async move { budget.attempt(tag).await });
        }
        while retries.join_next().await.is_some() {}
        let waited = start.elapsed();
        assert!(waited <= LONGEST_ATTEMPT_WAIT, "{waited:?}");
        let budget = Arc::try_unwrap(budget).unwrap();
        for _ in 0..20 {
            budget.throttled(tag);
        }
        assert!(
            (rate(&budget) - 0.95).abs() < 1e-9,
            "never below a quarter of the pace"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        budget.acquire("ecs", "TagResource").await;
        assert!((rate(&budget) - 3.8).abs() < 1e-9, "back to the pace");
    }

    #[test]
    fn environments_of_one_account_and_region_share_one_budget() {
        let a = shared("111111111111", "eu-west-2", &[]);
        let b = shared("111111111111", "eu-west-2", &[]);
        let c = shared("111111111111", "eu-west-1", &[]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
