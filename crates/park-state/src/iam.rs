//! The IAM actions reading the live state takes: what the park tool's and tf-wrap's
//! policies must allow for [`crate::observe::observe`].

/// What [`crate::observe::observe`] calls: every read of the live state. tf-wrap's park
/// guard and drift check read the records through it, so its policies must allow these.
pub const OBSERVE_ACTIONS: &[&str] = &[
    "application-autoscaling:DescribeScalableTargets",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "rds:DescribeDBClusters",
];

/// Reading EventBridge rules and their park records.
pub const EVENTS_READ_ACTIONS: &[&str] = &["events:DescribeRule", "events:ListTagsForResource"];
