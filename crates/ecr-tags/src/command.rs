//! The use cases of `ecr-tags` — `latest`, `pins`, `bump` — as one library call each,
//! returning a typed [`Outcome`] (the report and its exit status) or an [`EcrTagsError`].
//! The binary parses arguments into a [`Request`], calls [`run`], renders the outcome.

use crate::bump::{plan_bump, BumpOptions, BumpReport};
use crate::discover::{describe_repository, family_images, newest};
use crate::error::EcrTagsError;
use crate::report::{LatestReport, PinsReport};
use infra_core::environment::{Environment, PinnedImage, TagPattern};
use infra_core::exit::ExitStatus;
use infra_core::retry::Deadline;
use infra_core::runner::Caller;
use infra_core::setup::Setup;

/// What to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// `ecr-tags latest`.
    Latest {
        /// Which family.
        family: Family,
        /// Accept a tag that can be overwritten.
        allow_mutable: bool,
    },
    /// `ecr-tags pins`.
    Pins {
        /// Exit 3 when a pin is behind, missing, has a wrong digest, or (with `live`) is not
        /// what ECS runs.
        check: bool,
        /// Compare each pin with what ECS runs.
        live: bool,
        /// With `live`: while a pin is `not-deployed` (and nothing is drifted or failed),
        /// check again every `poll` until this much time has passed.
        wait: Option<LiveWait>,
        /// No notification of pins production does not run (`--live --check`).
        no_notify: bool,
    },
    /// `ecr-tags bump`.
    Bump {
        /// The image (its `image` block name, the Terraform local).
        image: String,
        /// The checks and the target.
        options: BumpOptions,
        /// Write nothing; exit 3 when the pin would change.
        dry_run: bool,
    },
}

/// `pins --live --wait`: how long to wait for a rollout, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct LiveWait {
    /// The longest wait.
    pub timeout: std::time::Duration,
    /// The pause between checks.
    pub poll: std::time::Duration,
}

/// An image family: an `image` block of the environment file, or a repository and a
/// pattern given on the command line.
#[derive(Debug, Clone)]
pub enum Family {
    /// An `image` block, by name.
    Image(String),
    /// `--repository R --pattern P`: needs no environment file.
    Pattern {
        /// The ECR repository.
        repository: String,
        /// The tag pattern, as given (anchored when compiled).
        pattern: String,
    },
}

impl Request {
    /// Whether this request can run without an environment file: only an ad-hoc `latest`,
    /// a read-only query with no account to guard.
    pub fn needs_environment(&self) -> bool {
        !matches!(
            self,
            Request::Latest {
                family: Family::Pattern { .. },
                ..
            }
        )
    }
}

/// What a command produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The newest image of a family.
    Latest(LatestReport),
    /// Every pin against ECR.
    Pins(PinsReport),
    /// A bump (written, unchanged, or planned by a dry run).
    Bump(BumpReport),
}

impl Outcome {
    /// The exit status the outcome calls for.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Outcome::Latest(_) => ExitStatus::Success,
            Outcome::Pins(report) => report.exit_status(),
            Outcome::Bump(report) => report.exit_status(),
        }
    }
}

/// A request with everything it names resolved: what is left needs only AWS.
enum Job<'e> {
    Latest {
        repository: String,
        pattern: TagPattern,
        allow_mutable: bool,
    },
    Pins {
        env: &'e Environment,
        check: bool,
        live: bool,
        wait: Option<LiveWait>,
        no_notify: bool,
    },
    Bump {
        target: &'e PinnedImage,
        options: BumpOptions,
        dry_run: bool,
    },
}

/// Runs `request`: loads the environment file when the request needs one (or one was
/// given), resolves what the request names (an image, a pattern) so bad input is exit 2
/// before any AWS call, builds the SDK configuration (with the account guard when there is
/// an environment), then does the command. A bump is written here, atomically.
/// Runs `request`, stopping where it is when the caller's stop fires (SIGINT/SIGTERM): a
/// finished command's result wins the race. A pin file is written atomically, so it is
/// either untouched or wholly bumped.
pub async fn run(
    setup: &Setup,
    request: Request,
    caller: &Caller,
) -> Result<Outcome, EcrTagsError> {
    let writes = matches!(request, Request::Bump { .. });
    let stop = (caller.on_signals)(infra_core::runner::StopKind::finish(
        "nothing further is done".into(),
        "a pin file is always either untouched or wholly rewritten".into(),
    ));
    tokio::select! {
        biased;
        outcome = run_request(setup, request) => outcome,
        () = stop.wait() => Err(EcrTagsError::Interrupted { writes }),
    }
}

async fn run_request(setup: &Setup, request: Request) -> Result<Outcome, EcrTagsError> {
    let env = match (request.needs_environment(), &setup.env_file) {
        (false, None) => None,
        _ => Some(setup.environment()?),
    };
    let job = match request {
        Request::Latest {
            family: Family::Image(name),
            allow_mutable,
        } => {
            let i = image(env.as_ref(), &name)?;
            Job::Latest {
                repository: i.repository.clone(),
                pattern: i.tag_pattern.clone(),
                allow_mutable,
            }
        }
        Request::Latest {
            family:
                Family::Pattern {
                    repository,
                    pattern,
                },
            allow_mutable,
        } => Job::Latest {
            pattern: TagPattern::new(&pattern).map_err(|e| {
                EcrTagsError::Usage(format!(
                    "--pattern `{pattern}` is not a valid regular expression: {e}"
                ))
            })?,
            repository,
            allow_mutable,
        },
        Request::Pins {
            check,
            live,
            wait,
            no_notify,
        } => Job::Pins {
            env: env.as_ref().ok_or_else(|| {
                EcrTagsError::Usage("pins needs an environment file (--env-file)".into())
            })?,
            check,
            live,
            wait,
            no_notify,
        },
        Request::Bump {
            image: name,
            options,
            dry_run,
        } => Job::Bump {
            target: image(env.as_ref(), &name)?,
            options,
            dry_run,
        },
    };
    let config = match &env {
        Some(env) => setup.aws(env).await?.0,
        None => setup.aws_without_environment().await?,
    };
    let ecr = infra_core::aws_client!(aws_sdk_ecr, &config, Deadline::none(), "ecr-tags");
    match job {
        Job::Latest {
            repository,
            pattern,
            allow_mutable,
        } => latest(&ecr, repository, pattern, allow_mutable)
            .await
            .map(Outcome::Latest),
        Job::Pins {
            env,
            check,
            live,
            wait,
            no_notify,
        } => {
            let mut pins = crate::pins::pins(&ecr, env).await;
            let live_checks = match live {
                false => None,
                true => {
                    let ecs = infra_core::aws_client!(
                        aws_sdk_ecs,
                        &config,
                        Deadline::none(),
                        "ecr-tags-ecs"
                    );
                    Some(look_live(&ecs, env, &mut pins, wait).await)
                }
            };
            let mut report = PinsReport {
                pins,
                check,
                live_checks,
                notifications: Vec::new(),
            };
            if check {
                // A signal is handled around the whole run (`run` races its stop): never
                // during the notification.
                report.notifications = infra_notify::step(
                    env.notify.as_ref().filter(|_| !no_notify),
                    report.not_live_notice(&env.name),
                    &Deadline::none(),
                    &infra_core::runner::Stop::never(),
                )
                .await;
            }
            Ok(Outcome::Pins(report))
        }
        Job::Bump {
            target,
            options,
            dry_run,
        } => bump(&ecr, target, &options, dry_run)
            .await
            .map(Outcome::Bump),
    }
}

/// `pins --live`: compares the rows with ECS; with `wait`, again every `poll` while a
/// rollout is worth waiting for ([`rollout_pending`]) and time is left. ECR was read once,
/// before. How many times ECS was read.
async fn look_live(
    ecs: &aws_sdk_ecs::Client,
    env: &Environment,
    rows: &mut [crate::pins::PinRow],
    wait: Option<LiveWait>,
) -> u32 {
    let started = tokio::time::Instant::now();
    let mut looks = 0;
    loop {
        crate::pins::check_live(ecs, env, rows).await;
        looks += 1;
        let Some(wait) = wait else { return looks };
        let waiting = rollout_pending(rows);
        let left = wait.timeout.saturating_sub(started.elapsed());
        if waiting == 0 || left.is_zero() {
            return looks;
        }
        tracing::info!(
            "{waiting} pin(s) not deployed yet; checking again in {}s ({}s left)",
            wait.poll.min(left).as_secs(),
            left.as_secs()
        );
        tokio::time::sleep(wait.poll.min(left)).await;
    }
}

/// How many pins are `not-deployed` while nothing is `drifted` or failed: a rollout worth
/// waiting for. 0 when everything is live, or when waiting cannot help.
fn rollout_pending(rows: &[crate::pins::PinRow]) -> usize {
    use crate::live::LiveStatus;
    let statuses: Vec<LiveStatus> = rows
        .iter()
        .filter_map(|r| r.live.as_ref().map(|l| l.status))
        .collect();
    if statuses
        .iter()
        .any(|s| matches!(s, LiveStatus::Drifted | LiveStatus::Error))
    {
        return 0;
    }
    statuses
        .iter()
        .filter(|s| **s == LiveStatus::NotDeployed)
        .count()
}

/// The newest image of the family `pattern` in `repository`, refused when its tag can be
/// overwritten (unless `allow_mutable`).
pub async fn latest(
    ecr: &aws_sdk_ecr::Client,
    repository: String,
    pattern: TagPattern,
    allow_mutable: bool,
) -> Result<LatestReport, EcrTagsError> {
    let repo = describe_repository(ecr, &repository).await?;
    let images = family_images(ecr, &repository, &pattern).await?;
    let chosen = newest(&images)?
        .cloned()
        .ok_or_else(|| EcrTagsError::no_tags(&repository, &pattern))?;
    if !allow_mutable {
        repo.check_immutable(&chosen.tag)?;
    }
    Ok(LatestReport {
        uri: format!("{}:{}", repo.uri, chosen.tag),
        repository,
        pattern: pattern.as_str().to_owned(),
        image: chosen,
    })
}

/// Moves the pin of `target` after every check and writes its file atomically (a dry run
/// writes nothing); with `options.commit`, git commits the change instead (and pushes it).
pub async fn bump(
    ecr: &aws_sdk_ecr::Client,
    target: &PinnedImage,
    options: &BumpOptions,
    dry_run: bool,
) -> Result<BumpReport, EcrTagsError> {
    let repo = describe_repository(ecr, &target.repository).await?;
    let mut report = plan_bump(ecr, &repo, target, options, dry_run).await?;
    if dry_run {
        return Ok(report);
    }
    match &options.commit {
        Some(commit) => {
            // git runs as child processes: off the async workers, so a signal is still seen.
            let (done, commit) = (report.clone(), commit.clone());
            let made = tokio::task::spawn_blocking(move || {
                crate::git::commit_bump(
                    &done.file,
                    done.new_text.as_deref(),
                    &done.facts(),
                    &commit,
                )
            })
            .await
            .map_err(|e| EcrTagsError::Git(format!("the git step stopped: {e}")))??;
            report.commit = Some(made);
        }
        None => {
            if let Some(text) = &report.new_text {
                infra_core::fs::write_atomic(&report.file, text.as_bytes())?;
            }
        }
    }
    Ok(report)
}

/// The `image` block `name` of the environment file.
pub fn image<'a>(
    env: Option<&'a Environment>,
    name: &str,
) -> Result<&'a PinnedImage, EcrTagsError> {
    let env = env.ok_or_else(|| {
        EcrTagsError::Usage(format!(
            "image `{name}` needs an environment file (--env-file)"
        ))
    })?;
    env.image(name).ok_or_else(|| EcrTagsError::UnknownImage {
        name: name.to_owned(),
        known: env
            .images
            .iter()
            .map(|i| i.local.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}
