//! The states AWS reports for the resources park observes, as enums: each known value a
//! variant, and `Unknown(String)` for one AWS adds later (as the SDK's own enums do), so a
//! new value is carried and shown, never mistaken for a known one. Each is written and read
//! as AWS spells it (`ACTIVE`, `available`), which is also how the reports serialise it.

use serde::{Serialize, Serializer};
use std::fmt;

/// Defines a state enum: its variants with AWS's spelling, `Unknown(String)`, `parse`,
/// `as_str`, `Display` and `Serialize` (as the string).
macro_rules! aws_state {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, as AWS spelled it.
            Unknown(String),
        }

        impl $name {
            /// The state for AWS's spelling; anything else is `Unknown`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// The state in AWS's answer; an answer without one is `Unknown("")` (shown as
            /// the empty value it was), never a made-up spelling.
            pub fn answered(text: Option<&str>) -> Self {
                text.map_or_else(|| $name::Unknown(String::new()), $name::parse)
            }

            /// AWS's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

aws_state! {
    /// An ECS service's status (`DescribeServices`), or `MISSING` when ECS does not know it.
    ServiceStatus {
        /// Running as configured.
        Active = "ACTIVE",
        /// Being deleted.
        Draining = "DRAINING",
        /// Deleted.
        Inactive = "INACTIVE",
        /// Not found in its cluster (ours: ECS has no such status).
        Missing = "MISSING",
    }
}

aws_state! {
    /// An ECS service's scheduling strategy.
    SchedulingStrategy {
        /// A desired count of tasks: what park parks.
        Replica = "REPLICA",
        /// One task per container instance: park refuses these.
        Daemon = "DAEMON",
    }
}

aws_state! {
    /// The launch type an ECS service names.
    LaunchType {
        /// AWS Fargate.
        Fargate = "FARGATE",
        /// EC2 container instances.
        Ec2 = "EC2",
        /// ECS Anywhere.
        External = "EXTERNAL",
    }
}

aws_state! {
    /// A capacity provider in an ECS service's strategy: Fargate's two, or a named EC2
    /// (Auto Scaling group) provider, carried as `Unknown(NAME)`.
    CapacityProvider {
        /// Fargate at on-demand prices.
        Fargate = "FARGATE",
        /// Fargate Spot, whose prices vary.
        FargateSpot = "FARGATE_SPOT",
    }
}

aws_state! {
    /// An EventBridge rule's `State`, or `MISSING` when EventBridge does not know it.
    RuleStatus {
        /// Enabled.
        Enabled = "ENABLED",
        /// Disabled.
        Disabled = "DISABLED",
        /// Enabled for every CloudTrail management event (EnableRule cannot restore it).
        EnabledWithAllCloudtrailManagementEvents = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        /// Not found on its bus (ours: EventBridge has no such state).
        Missing = "MISSING",
    }
}

impl RuleStatus {
    /// The state as park records and restores it: `None` for one it cannot (missing, the
    /// CloudTrail variant, an unknown value).
    pub fn enablement(&self) -> Option<crate::record::Enablement> {
        match self {
            RuleStatus::Enabled => Some(crate::record::Enablement::Enabled),
            RuleStatus::Disabled => Some(crate::record::Enablement::Disabled),
            _ => None,
        }
    }
}

aws_state! {
    /// An Aurora cluster's status (`DescribeDBClusters`), or `missing` when RDS does not know
    /// it.
    AuroraStatus {
        /// Serving.
        Available = "available",
        /// Being created.
        Creating = "creating",
        /// Being changed.
        Modifying = "modifying",
        /// Being backed up.
        BackingUp = "backing-up",
        /// Starting.
        Starting = "starting",
        /// Stopping.
        Stopping = "stopping",
        /// Stopped.
        Stopped = "stopped",
        /// Being deleted.
        Deleting = "deleting",
        /// Failed.
        Failed = "failed",
        /// Its KMS key cannot be used.
        InaccessibleEncryptionCredentials = "inaccessible-encryption-credentials",
        /// Not found (ours: RDS has no such status).
        Missing = "missing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_new_ones_are_kept() {
        for text in ["ACTIVE", "DRAINING", "INACTIVE", "MISSING"] {
            assert_eq!(ServiceStatus::parse(text).as_str(), text);
            assert!(!matches!(
                ServiceStatus::parse(text),
                ServiceStatus::Unknown(_)
            ));
        }
        assert_eq!(
            ServiceStatus::parse("PROVISIONING"),
            ServiceStatus::Unknown("PROVISIONING".into())
        );
        assert_eq!(
            ServiceStatus::answered(None),
            ServiceStatus::Unknown(String::new())
        );
        assert_eq!(
            ServiceStatus::answered(Some("ACTIVE")),
            ServiceStatus::Active
        );
        assert_eq!(AuroraStatus::parse("available"), AuroraStatus::Available);
        assert_eq!(
            serde_json::to_value(AuroraStatus::parse("upgrading")).unwrap(),
            "upgrading"
        );
        assert_eq!(
            RuleStatus::parse("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS").enablement(),
            None
        );
        assert_eq!(
            RuleStatus::parse("DISABLED").enablement(),
            Some(crate::record::Enablement::Disabled)
        );
        assert_eq!(LaunchType::parse("FARGATE").to_string(), "FARGATE");
        assert_eq!(
            SchedulingStrategy::parse("DAEMON"),
            SchedulingStrategy::Daemon
        );
    }
}
