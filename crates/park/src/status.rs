//! The `park status` report: per resource, parked / unparked / partly parked / drifted,
//! the environment file's expectation beside the live state, and the park record's age.

use crate::change::Change;
use crate::clock::ClockNote;
use crate::converge::{self, Decision, LiveView};
use crate::observe::{AuroraState, LiveEnvironment, RuleState, ServiceState};
use crate::plan::{flags, service_drift, service_is_parked};
use crate::record::{age_seconds, Enablement, Found};
use crate::report::{HoldNote, HoldResult};
use crate::savings::{self, Savings, SavingsSummary, TaskSize};
use crate::state::AuroraStatus;
use infra_core::aws::CallerIdentity;
use infra_core::environment::{
    AuroraCluster, AuroraParkPolicy, EcsService, Environment, EventBridgeRule,
};
use infra_core::exit::ExitStatus;
use infra_core::output::{table, Report};
use schedule::{Action, Expected, Schedule, Timestamp};
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};

/// The state of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParkState {
    /// Running as the environment file declares, no record.
    Unparked,
    /// Parked, with its record.
    Parked,
    /// A record exists but only some steps are done (an interrupted run).
    PartlyParked,
    /// Differs from the environment file, or from its record, or unreadable record.
    Drifted,
    /// Not managed by parking (`park = false`, Aurora `keep`).
    Kept,
    /// Does not exist.
    Missing,
}

/// The environment as a whole, leaving out what park keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overall {
    /// Every managed resource parked (and there is at least one).
    Parked,
    /// Every managed resource unparked.
    Unparked,
    /// Anything else: some parked, some not, partly parked, drifted or missing.
    Mixed,
}

impl Overall {
    /// The clean state it is in, if any (what the schedule's expectation is compared with).
    pub fn clean(self) -> Option<Expected> {
        match self {
            Overall::Parked => Some(Expected::Parked),
            Overall::Unparked => Some(Expected::Unparked),
            Overall::Mixed => None,
        }
    }

    /// As the text and JSON reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Parked => "parked",
            Overall::Unparked => "unparked",
            Overall::Mixed => "mixed",
        }
    }
}

/// `park status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The environment's name.
    pub environment: String,
    /// The environment's account.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// Who the credentials belong to, when the account guard ran.
    pub caller: Option<CallerIdentity>,
    /// The overall state.
    pub overall: Overall,
    /// ECS services.
    pub services: Vec<ServiceRow>,
    /// Aurora clusters.
    pub aurora: Vec<AuroraRow>,
    /// EventBridge rules.
    pub eventbridge_rules: Vec<RuleRow>,
    /// The hold on the environment: `held` (in force) or `expired` (the next `park down`
    /// removes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldNote>,
    /// What parking saves, in total, when anything is parked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings: Option<SavingsSummary>,
    /// The environment file's schedule: local now, the next park and unpark, and whether
    /// the state is what the schedule expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleStatus>,
    /// The last completed park or unpark recorded on the clusters.
    #[serde(skip)]
    pub last_change: Option<Change>,
    /// `--now`: the clock the report was made at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockNote>,
}

/// `park status` against the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleStatus {
    /// The schedule's time zone.
    pub timezone: String,
    /// Now, in that zone (RFC 3339 with its offset).
    pub local_time: String,
    /// The next scheduled park.
    pub next_park: Option<String>,
    /// The next scheduled unpark (skipping holidays and non-working days).
    pub next_unpark: Option<String>,
    /// What the schedule expects now: `parked` or `unparked`.
    pub expected: Expected,
    /// `on-schedule`, `off-schedule`, `held` (unparked by a hold in force while the
    /// schedule expects parked) or `overridden` (changed by hand since the last
    /// transition: the next scheduled run leaves it).
    pub state: ScheduleState,
    /// Who decides the state until the next transition: `schedule` or `person`.
    pub in_charge: InCharge,
    /// `person`: when the schedule takes over again (the next transition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The last completed park or unpark: what, when, by whom, scheduled or by hand.
    pub last_change: Option<Change>,
}

/// Who decides the environment's state until the next transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InCharge {
    /// Scheduled runs converge to the schedule.
    Schedule,
    /// A person's change (or hold) stands; scheduled runs leave it.
    Person,
}

/// Whether the environment is where its schedule expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleState {
    /// As expected.
    OnSchedule,
    /// Not as expected (parked in working hours, unparked outside them, or mixed):
    /// `park status --check` exits 3.
    OffSchedule,
    /// Unparked while the schedule expects parked, by a hold in force.
    Held,
    /// Parked or unparked by hand since the last transition: left so until the next.
    Overridden,
}

impl ScheduleState {
    /// As the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::OnSchedule => "on-schedule",
            ScheduleState::OffSchedule => "off-schedule",
            ScheduleState::Held => "held",
            ScheduleState::Overridden => "overridden",
        }
    }
}

impl StatusReport {
    /// The report with the schedule's view at `now` (`park status` with a `schedule`
    /// block).
    pub fn with_schedule(mut self, schedule: &Schedule, now: Timestamp) -> Self {
        let expected = schedule.expected(now);
        let action = match expected {
            Expected::Parked => Action::Park,
            Expected::Unparked => Action::Unpark,
        };
        // What the next scheduled run of the expected direction would decide.
        let timing = converge::timing(schedule, action, now);
        let note = converge::converge(
            schedule,
            &timing,
            LiveView {
                state: self.overall.clean(),
                hold: self
                    .hold
                    .as_ref()
                    .filter(|n| n.result == HoldResult::Held)
                    .map(|n| &n.hold),
                last_change: self.last_change.as_ref(),
            },
        );
        let state = match note.decision {
            Decision::OnSchedule => ScheduleState::OnSchedule,
            Decision::Held => ScheduleState::Held,
            Decision::Overridden => ScheduleState::Overridden,
            _ => ScheduleState::OffSchedule,
        };
        let (in_charge, until) = match (state, &self.hold) {
            (ScheduleState::Overridden, _) => (InCharge::Person, note.until.clone()),
            (ScheduleState::Held, Some(h)) => (InCharge::Person, Some(h.hold.until.clone())),
            _ => (InCharge::Schedule, None),
        };
        self.savings = self.savings.map(|s| s.with_schedule(schedule, now));
        self.schedule = Some(ScheduleStatus {
            timezone: schedule.zone().to_owned(),
            local_time: note.local_time,
            next_park: note.next_park,
            next_unpark: note.next_unpark,
            expected,
            state,
            in_charge,
            until,
            last_change: self.last_change.clone(),
        });
        self
    }
}

/// A service: what the file expects, what is live, and its state.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    /// The state.
    pub state: ParkState,
    /// Why, when not plainly parked or unparked.
    pub detail: Option<String>,
    /// What parking it saves, when it is parked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings: Option<Savings>,
    /// Age of the park record in seconds.
    pub record_age_seconds: Option<u64>,
    /// Desired count per the environment file.
    pub expected_desired_count: u32,
    /// Autoscaling range per the environment file.
    pub expected_autoscaling: Option<(u32, u32)>,
    /// Whether parking scales it down.
    pub park: bool,
    /// The live state.
    #[serde(flatten)]
    pub live: ServiceState,
}

/// An Aurora cluster.
#[derive(Debug, Clone, Serialize)]
pub struct AuroraRow {
    /// The state.
    pub state: ParkState,
    /// Why, when not plainly parked or unparked.
    pub detail: Option<String>,
    /// What parking it saves, when it is parked (`scale-to-zero`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings: Option<Savings>,
    /// Age of the park record in seconds.
    pub record_age_seconds: Option<u64>,
    /// The park policy per the environment file.
    pub park: AuroraParkPolicy,
    /// The live state.
    #[serde(flatten)]
    pub live: AuroraState,
}

/// An EventBridge rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    /// The state.
    pub state: ParkState,
    /// Why, when not plainly parked or unparked.
    pub detail: Option<String>,
    /// Age of the park record in seconds.
    pub record_age_seconds: Option<u64>,
    /// Whether parking disables it.
    pub park: bool,
    /// The live state.
    #[serde(flatten)]
    pub live: RuleState,
}

/// Classifies a service.
pub fn service_state(cfg: &EcsService, live: &ServiceState) -> (ParkState, Option<String>) {
    if !live.found {
        return (
            ParkState::Missing,
            Some(format!("not found (status {})", live.status)),
        );
    }
    match &live.record {
        Found::Invalid { error } => (ParkState::Drifted, Some(error.clone())),
        Found::Valid { record } => {
            if let Some(drift) = service_drift(live, record) {
                (
                    ParkState::Drifted,
                    Some(format!("changed while parked: {drift}")),
                )
            } else if service_is_parked(live) {
                (ParkState::Parked, None)
            } else {
                (
                    ParkState::PartlyParked,
                    Some("a park or unpark run was interrupted; run it again".into()),
                )
            }
        }
        Found::None => {
            let mut problems = Vec::new();
            match (cfg.autoscaling, live.scalable_target) {
                (Some(range), Some(t)) => {
                    if (t.min, t.max) != (range.min as i32, range.max as i32) {
                        problems.push(format!(
                            "scalable target {}-{}, file says {}-{}",
                            t.min, t.max, range.min, range.max
                        ));
                    }
                    // Suspension flags are not declared in the file: an operator may suspend
                    // scale-in on purpose, so they are shown, never judged.
                    if !(t.min..=t.max).contains(&live.desired_count) {
                        problems.push(format!(
                            "desired count {} outside {}-{}",
                            live.desired_count, t.min, t.max
                        ));
                    }
                }
                (Some(_), None) => problems.push("no scalable target, file declares one".into()),
                (None, Some(t)) => problems.push(format!(
                    "scalable target {}-{} not in the file",
                    t.min, t.max
                )),
                (None, None) => {
                    if live.desired_count != cfg.desired_count as i32 {
                        problems.push(format!(
                            "desired count {}, file says {}",
                            live.desired_count, cfg.desired_count
                        ));
                    }
                }
            }
            if !cfg.park {
                return (
                    ParkState::Kept,
                    (!problems.is_empty()).then(|| problems.join("; ")),
                );
            }
            if problems.is_empty() {
                (ParkState::Unparked, None)
            } else {
                (ParkState::Drifted, Some(problems.join("; ")))
            }
        }
    }
}

/// Classifies an Aurora cluster.
pub fn aurora_state(cfg: &AuroraCluster, live: &AuroraState) -> (ParkState, Option<String>) {
    if !live.found {
        return (ParkState::Missing, Some("not found".into()));
    }
    let status =
        (live.status != AuroraStatus::Available).then(|| format!("status {}", live.status));
    match (&live.record, cfg.park) {
        (Found::Invalid { error }, _) => (ParkState::Drifted, Some(error.clone())),
        (Found::None, AuroraParkPolicy::Keep) => (ParkState::Kept, status),
        (Found::Valid { .. }, AuroraParkPolicy::Keep) => (
            ParkState::Drifted,
            Some("has a park record but the file says `keep`".into()),
        ),
        (Found::None, AuroraParkPolicy::ScaleToZero) => {
            if live.min_capacity == Some(0.0) {
                (
                    ParkState::Drifted,
                    Some("minimum 0 ACU without a park record".into()),
                )
            } else {
                (ParkState::Unparked, status)
            }
        }
        (Found::Valid { record }, AuroraParkPolicy::ScaleToZero) => match live.min_capacity {
            Some(0.0) => (ParkState::Parked, status),
            Some(m) if m == record.min_capacity => (
                ParkState::PartlyParked,
                Some("record written, not yet scaled".into()),
            ),
            other => (
                ParkState::Drifted,
                Some(format!(
                    "changed while parked: minimum {other:?} ACU, record says {}",
                    record.min_capacity
                )),
            ),
        },
    }
}

/// Classifies an EventBridge rule: `DISABLED` with its record is parked.
pub fn rule_state(cfg: &EventBridgeRule, live: &RuleState) -> (ParkState, Option<String>) {
    if !live.found {
        return (ParkState::Missing, Some("not found".into()));
    }
    let enablement = live.status.enablement();
    match (&live.record, cfg.park) {
        (Found::Invalid { error }, _) => (ParkState::Drifted, Some(error.clone())),
        (Found::None, false) => (ParkState::Kept, None),
        (Found::Valid { .. }, false) => (
            ParkState::Drifted,
            Some("has a park record but the file says `park = false`".into()),
        ),
        (Found::None, true) => match enablement {
            Some(Enablement::Enabled) => (ParkState::Unparked, None),
            Some(Enablement::Disabled) => (
                ParkState::Unparked,
                Some("disabled, not by park (no record)".into()),
            ),
            None => (
                ParkState::Unparked,
                Some(format!(
                    "state {}: park leaves it alone (EnableRule could not restore it)",
                    live.status
                )),
            ),
        },
        (Found::Valid { record }, true) => match (enablement, record.state) {
            (Some(Enablement::Disabled), Enablement::Enabled) => (ParkState::Parked, None),
            (Some(Enablement::Disabled), Enablement::Disabled) => (
                ParkState::Parked,
                Some("was disabled when recorded: stays disabled after unpark".into()),
            ),
            (Some(Enablement::Enabled), Enablement::Enabled) => (
                ParkState::PartlyParked,
                Some("a park or unpark run was interrupted; run it again".into()),
            ),
            (_, recorded) => (
                ParkState::Drifted,
                Some(format!(
                    "changed while parked: {}, the record says it was {}",
                    live.status,
                    recorded.as_str()
                )),
            ),
        },
    }
}

impl StatusReport {
    /// Joins the environment file with the observation.
    pub fn new(
        env: &Environment,
        live: LiveEnvironment,
        caller: Option<CallerIdentity>,
        sizes: &HashMap<String, Result<TaskSize, String>>,
        now: std::time::SystemTime,
    ) -> Self {
        let prices = savings::prices(env);
        let savings = savings::of_environment(env, &live, sizes);
        let live_change = live.last_change().cloned();
        let hold = match live.hold_at(now) {
            Some(h) => Some(HoldNote {
                result: HoldResult::Held,
                hold: h.clone(),
            }),
            None => live.latest_hold().map(|h| HoldNote {
                result: HoldResult::Expired,
                hold: h.clone(),
            }),
        };
        let services: Vec<ServiceRow> = env
            .services()
            .zip(live.services)
            .map(|((_, cfg), state)| {
                let (park_state, detail) = service_state(cfg, &state);
                ServiceRow {
                    state: park_state,
                    detail,
                    savings: savings::service_savings(&state, sizes, prices.as_ref()),
                    record_age_seconds: state
                        .record
                        .valid()
                        .and_then(|r| age_seconds(&r.parked_at)),
                    expected_desired_count: cfg.desired_count,
                    expected_autoscaling: cfg.autoscaling.map(|a| (a.min, a.max)),
                    park: cfg.park,
                    live: state,
                }
            })
            .collect();
        let aurora: Vec<AuroraRow> = env
            .aurora_clusters
            .iter()
            .zip(live.aurora)
            .map(|(cfg, state)| {
                let (park_state, detail) = aurora_state(cfg, &state);
                AuroraRow {
                    state: park_state,
                    detail,
                    savings: savings::aurora_saving(cfg, &state, prices.as_ref()),
                    record_age_seconds: state
                        .record
                        .valid()
                        .and_then(|r| age_seconds(&r.parked_at)),
                    park: cfg.park,
                    live: state,
                }
            })
            .collect();
        let eventbridge_rules: Vec<RuleRow> = env
            .eventbridge_rules
            .iter()
            .zip(live.rules)
            .map(|(cfg, state)| {
                let (park_state, detail) = rule_state(cfg, &state);
                RuleRow {
                    state: park_state,
                    detail,
                    record_age_seconds: state
                        .record
                        .valid()
                        .and_then(|r| age_seconds(&r.parked_at)),
                    park: cfg.park,
                    live: state,
                }
            })
            .collect();
        let overall = overall_of(
            services
                .iter()
                .map(|s| s.state)
                .chain(aurora.iter().map(|a| a.state))
                .chain(eventbridge_rules.iter().map(|r| r.state)),
        );
        StatusReport {
            environment: env.name.clone(),
            account_id: env.account_id.clone(),
            region: env.region.clone(),
            caller,
            overall,
            services,
            aurora,
            eventbridge_rules,
            hold,
            savings,
            schedule: None,
            last_change: live_change,
            clock: None,
        }
    }

    /// For `--check`: 0 when the environment is cleanly parked or cleanly unparked (and
    /// nothing kept has drifted), 3 otherwise.
    pub fn check_status(&self) -> ExitStatus {
        let kept_clean = self
            .services
            .iter()
            .filter(|s| s.state == ParkState::Kept)
            .all(|s| s.detail.is_none());
        let on_schedule = self
            .schedule
            .as_ref()
            .is_none_or(|s| s.state != ScheduleState::OffSchedule);
        if self.overall != Overall::Mixed && kept_clean && on_schedule {
            ExitStatus::Success
        } else {
            ExitStatus::ChangesFound
        }
    }
}

/// The environment as a whole from the live state, leaving out what park keeps (what a
/// scheduled run compares with the schedule, without building the whole report).
pub fn overall(env: &Environment, live: &LiveEnvironment) -> Overall {
    overall_of(
        env.services()
            .zip(&live.services)
            .map(|((_, cfg), state)| service_state(cfg, state).0)
            .chain(
                env.aurora_clusters
                    .iter()
                    .zip(&live.aurora)
                    .map(|(cfg, state)| aurora_state(cfg, state).0),
            )
            .chain(
                env.eventbridge_rules
                    .iter()
                    .zip(&live.rules)
                    .map(|(cfg, state)| rule_state(cfg, state).0),
            ),
    )
}

/// Parked when every managed resource is parked (and there is one), unparked when every
/// one is unparked, else mixed.
fn overall_of(states: impl Iterator<Item = ParkState>) -> Overall {
    let states: Vec<ParkState> = states.filter(|s| *s != ParkState::Kept).collect();
    if states.iter().all(|s| *s == ParkState::Parked) && !states.is_empty() {
        Overall::Parked
    } else if states.iter().all(|s| *s == ParkState::Unparked) {
        Overall::Unparked
    } else {
        Overall::Mixed
    }
}

fn range(r: Option<(impl std::fmt::Display, impl std::fmt::Display)>) -> String {
    r.map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}-{b}"))
}

fn age(seconds: Option<u64>) -> String {
    seconds.map_or_else(
        || "-".to_owned(),
        |s| humantime::format_duration(std::time::Duration::from_secs(s)).to_string(),
    )
}

fn state_name(state: ParkState) -> &'static str {
    match state {
        ParkState::Unparked => "unparked",
        ParkState::Parked => "parked",
        ParkState::PartlyParked => "partly-parked",
        ParkState::Drifted => "DRIFTED",
        ParkState::Kept => "kept",
        ParkState::Missing => "MISSING",
    }
}

impl Report for StatusReport {
    const SCHEMA: &'static str = "park/status";
    /// 2: `savings` on parked resources and in total, `hold`. 3: `eventbridge_rules`.
    const SCHEMA_VERSION: u32 = 3;

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "environment {} (account {}, {}): {}",
            self.environment,
            self.account_id,
            self.region,
            self.overall.as_str()
        )?;
        if let Some(caller) = &self.caller {
            writeln!(out, "caller      {}", caller.arn)?;
        }
        if let Some(s) = &self.schedule {
            let next = |t: &Option<String>| t.clone().unwrap_or_else(|| "none".into());
            writeln!(
                out,
                "schedule    {}: expected {} at {} ({}); next park {}, next unpark {}",
                s.state.as_str(),
                s.expected.as_str(),
                s.local_time,
                s.timezone,
                next(&s.next_park),
                next(&s.next_unpark)
            )?;
            match (s.in_charge, &s.until) {
                (InCharge::Person, Some(until)) => writeln!(
                    out,
                    "in charge   a person until {until}: scheduled runs leave it until then"
                )?,
                _ => writeln!(
                    out,
                    "in charge   the schedule: scheduled runs converge to it"
                )?,
            }
            if let Some(change) = &s.last_change {
                writeln!(out, "last change {}", change.describe())?;
            }
        }
        if let Some(clock) = &self.clock {
            writeln!(out, "{}", clock.describe())?;
        }
        match &self.hold {
            Some(n) if n.result == HoldResult::Held => writeln!(
                out,
                "hold        {} (`park down` changes nothing until then; `park release` ends it)",
                n.hold.describe()
            )?,
            Some(n) => writeln!(
                out,
                "hold        expired: was {} (the next `park down` removes it)",
                n.hold.describe()
            )?,
            None => {}
        }
        writeln!(out, "\nECS services")?;
        let rows = self.services.iter().map(|s| {
            let t = s.live.scalable_target;
            vec![
                s.live.cluster.clone(),
                s.live.service.clone(),
                state_name(s.state).to_owned(),
                format!("{}/{}", s.live.running_count, s.live.desired_count),
                s.expected_desired_count.to_string(),
                range(t.map(|t| (t.min, t.max))),
                range(s.expected_autoscaling),
                t.map_or("-".to_owned(), |t| flags(&t.suspended)),
                age(s.record_age_seconds),
                s.detail.clone().unwrap_or_default(),
            ]
        });
        write!(
            out,
            "{}",
            table(
                [
                    "CLUSTER",
                    "SERVICE",
                    "STATE",
                    "RUNNING/DESIRED",
                    "FILE",
                    "SCALING",
                    "FILE SCALING",
                    "SUSPENDED",
                    "RECORD AGE",
                    "DETAIL"
                ],
                rows
            )
        )?;
        if !self.aurora.is_empty() {
            writeln!(out, "\nAurora clusters")?;
            let rows = self.aurora.iter().map(|a| {
                vec![
                    a.live.cluster.clone(),
                    state_name(a.state).to_owned(),
                    a.live.status.to_string(),
                    range(a.live.min_capacity.zip(a.live.max_capacity)),
                    a.live
                        .seconds_until_auto_pause
                        .map_or("-".to_owned(), |s| format!("{s}s")),
                    a.live
                        .deletion_protection
                        .map_or("-".to_owned(), |d| if d { "on" } else { "OFF" }.to_owned()),
                    match a.park {
                        AuroraParkPolicy::Keep => "keep",
                        AuroraParkPolicy::ScaleToZero => "scale-to-zero",
                    }
                    .to_owned(),
                    age(a.record_age_seconds),
                    a.detail.clone().unwrap_or_default(),
                ]
            });
            write!(
                out,
                "{}",
                table(
                    [
                        "CLUSTER",
                        "STATE",
                        "STATUS",
                        "ACU",
                        "AUTO-PAUSE",
                        "DELETION PROTECTION",
                        "PARK",
                        "RECORD AGE",
                        "DETAIL"
                    ],
                    rows
                )
            )?;
        }
        if !self.eventbridge_rules.is_empty() {
            writeln!(out, "\nEventBridge rules")?;
            let rows = self.eventbridge_rules.iter().map(|r| {
                vec![
                    r.live.rule.clone(),
                    r.live.event_bus.clone(),
                    state_name(r.state).to_owned(),
                    r.live.status.to_string(),
                    r.live
                        .schedule_expression
                        .clone()
                        .unwrap_or_else(|| "-".into()),
                    r.live
                        .record
                        .valid()
                        .map_or("-".to_owned(), |rec| rec.state.as_str().to_owned()),
                    age(r.record_age_seconds),
                    r.detail.clone().unwrap_or_default(),
                ]
            });
            write!(
                out,
                "{}",
                table(
                    [
                        "RULE",
                        "EVENT BUS",
                        "STATE",
                        "LIVE",
                        "SCHEDULE",
                        "RECORDED",
                        "RECORD AGE",
                        "DETAIL"
                    ],
                    rows
                )
            )?;
        }
        if let Some(total) = &self.savings {
            writeln!(out, "\nSavings")?;
            let services = self.services.iter().filter_map(|s| {
                s.savings
                    .as_ref()
                    .map(|v| (format!("{}/{}", s.live.cluster, s.live.service), v))
            });
            let aurora = self
                .aurora
                .iter()
                .filter_map(|a| a.savings.as_ref().map(|v| (a.live.cluster.clone(), v)));
            for (name, v) in services.chain(aurora) {
                writeln!(out, "  {name}: {}", v.describe())?;
            }
            writeln!(out, "{}", total.describe())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `park/status` v1 keeps its strings: the typed states serialise as they always have.
    #[test]
    fn states_keep_their_json_strings() {
        for (overall, text) in [
            (Overall::Parked, "parked"),
            (Overall::Unparked, "unparked"),
            (Overall::Mixed, "mixed"),
        ] {
            assert_eq!(serde_json::to_value(overall).unwrap(), text);
            assert_eq!(overall.as_str(), text);
        }
        for (state, text) in [
            (ParkState::Unparked, "unparked"),
            (ParkState::Parked, "parked"),
            (ParkState::PartlyParked, "partly-parked"),
            (ParkState::Drifted, "drifted"),
            (ParkState::Kept, "kept"),
            (ParkState::Missing, "missing"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), text);
        }
    }

    /// `park/status`, byte for byte, around the overall state.
    #[test]
    fn status_json_is_unchanged() {
        let report = StatusReport {
            environment: "prod".into(),
            account_id: "123456789012".into(),
            region: "eu-west-2".into(),
            caller: Some(CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/ci".into(),
            }),
            overall: Overall::Mixed,
            services: Vec::new(),
            aurora: Vec::new(),
            eventbridge_rules: Vec::new(),
            hold: None,
            savings: None,
            schedule: None,
            last_change: None,
            clock: None,
        };
        let mut out = Vec::new();
        infra_core::output::write_report(&report, infra_core::output::OutputFormat::Json, &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            infra_core::build::fill(
                r#"{
  "schema": "park/status",
  "schema_version": 3,
  "build": {
    "version": "{{build.version}}",
    "commit": "{{build.commit}}",
    "target": "{{build.target}}",
    "profile": "{{build.profile}}"
  },
  "environment": "prod",
  "account_id": "123456789012",
  "region": "eu-west-2",
  "caller": {
    "account": "123456789012",
    "arn": "arn:aws:iam::123456789012:user/ci"
  },
  "overall": "mixed",
  "services": [],
  "aurora": [],
  "eventbridge_rules": []
}
"#
            )
        );
        assert_eq!(report.check_status().code(), 3);
    }
}
