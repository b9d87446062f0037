//! AWS's throttling, for the proxy: token buckets per account-wide throttling category,
//! as ECS publishes them (and EC2's model for Application Auto Scaling, which publishes
//! none). Written apart from the toolkit's own budget (`rate-budget`) on purpose: a
//! category the toolkit misfiles is throttled here as AWS would throttle it.

use std::time::Instant;

/// One bucket: which calls spend it, how big it is, what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsBucket {
    /// Its name in reports (`ecs service modify`).
    pub name: &'static str,
    /// The signing name of the service whose calls spend it.
    pub service: &'static str,
    /// The actions that spend it; empty: the service's mutating actions; `["*read"]`: its
    /// Describe*/List*/Get* actions.
    pub actions: &'static [&'static str],
    /// Capacity.
    pub burst: f64,
    /// Refill, tokens a second.
    pub per_second: f64,
}

/// ECS's published buckets and EC2's model for Application Auto Scaling.
pub fn aws_buckets() -> Vec<AwsBucket> {
    vec![
        AwsBucket {
            name: "ecs service modify",
            service: "ecs",
            actions: &["CreateService", "UpdateService", "DeleteService"],
            burst: 50.0,
            per_second: 5.0,
        },
        AwsBucket {
            name: "ecs resource tag modify",
            service: "ecs",
            actions: &["TagResource", "UntagResource"],
            burst: 20.0,
            per_second: 10.0,
        },
        AwsBucket {
            name: "ecs describes",
            service: "ecs",
            actions: &["*read"],
            burst: 100.0,
            per_second: 20.0,
        },
        AwsBucket {
            name: "application auto scaling mutating",
            service: "application-autoscaling",
            actions: &[],
            burst: 50.0,
            per_second: 5.0,
        },
        AwsBucket {
            name: "application auto scaling non-mutating",
            service: "application-autoscaling",
            actions: &["*read"],
            burst: 100.0,
            per_second: 20.0,
        },
    ]
}

impl AwsBucket {
    fn spends(&self, service: &str, action: &str) -> bool {
        let read = ["Describe", "List", "Get"]
            .iter()
            .any(|p| action.starts_with(p));
        service == self.service
            && match self.actions {
                [] => !read,
                ["*read"] => read,
                names => names.contains(&action),
            }
    }
}

/// What one bucket saw.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketCount {
    /// The bucket's name.
    pub name: &'static str,
    /// Its capacity and refill.
    pub burst: f64,
    /// Tokens a second.
    pub per_second: f64,
    /// Calls that spent a token (answered by the emulator).
    pub served: usize,
    /// Calls answered with `ThrottlingException`.
    pub throttled: usize,
}

impl BucketCount {
    /// The least time the bucket needs to serve `served` calls from full: what does not
    /// fit in the burst, at the refill rate.
    pub fn floor_seconds(&self) -> f64 {
        ((self.served as f64 - self.burst).max(0.0)) / self.per_second
    }
}

#[derive(Debug)]
pub(crate) struct Throttle {
    buckets: Vec<(AwsBucket, f64, Instant, BucketCount)>,
}

impl Throttle {
    pub(crate) fn new(buckets: Vec<AwsBucket>) -> Throttle {
        let now = Instant::now();
        Throttle {
            buckets: buckets
                .into_iter()
                .map(|b| {
                    let count = BucketCount {
                        name: b.name,
                        burst: b.burst,
                        per_second: b.per_second,
                        served: 0,
                        throttled: 0,
                    };
                    let full = b.burst;
                    (b, full, now, count)
                })
                .collect(),
        }
    }

    /// Whether AWS would throttle this call now; spends its token when not.
    pub(crate) fn throttles(&mut self, service: &str, action: &str) -> bool {
        let now = Instant::now();
        let Some((bucket, tokens, last, count)) = self
            .buckets
            .iter_mut()
            .find(|(b, ..)| b.spends(service, action))
        else {
            return false;
        };
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * bucket.per_second)
            .min(bucket.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            count.served += 1;
            false
        } else {
            count.throttled += 1;
            true
        }
    }

    pub(crate) fn counts(&self) -> Vec<BucketCount> {
        self.buckets.iter().map(|(.., c)| c.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_spends_its_own_bucket_and_is_throttled_when_it_is_empty() {
        let mut t = Throttle::new(aws_buckets());
        for _ in 0..20 {
            assert!(!t.throttles("ecs", "TagResource"));
        }
        assert!(t.throttles("ecs", "UntagResource"), "the 21st tag call");
        assert!(!t.throttles("ecs", "UpdateService"), "another bucket");
        assert!(!t.throttles("ecs", "DescribeServices"));
        assert!(!t.throttles("application-autoscaling", "RegisterScalableTarget"));
        assert!(!t.throttles("sts", "GetCallerIdentity"), "not modelled");
        let counts = t.counts();
        assert_eq!((counts[1].served, counts[1].throttled), (20, 1));
        assert_eq!(counts[0].served, 1);
        assert_eq!(counts[3].served, 1);
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert!(
            !t.throttles("ecs", "TagResource"),
            "refilled at 10 a second"
        );
    }
}
