//! `tf-wrap comment`: a bundle's plan summary on its pull request, as **one comment per
//! environment**, updated on every push (GitHub's REST API: list the issue comments through
//! every page of the `Link` header, then update the one carrying this environment's hidden
//! marker, or create it).
//!
//! The token is a secret: it goes only into the `Authorization` header of requests to the
//! API's own origin (a `Link` to another origin is refused), and no message contains it.
//!
//! The comment belongs to tf-wrap: only a marked comment **written by the token's own
//! identity** is updated (its login from `GET /user`, or `--author` /
//! `TF_WRAP_COMMENT_AUTHOR` for a GitHub App installation token, which has no user). A
//! marked comment by anyone else is left alone with a warning, and a new one is posted:
//! whoever can comment cannot take over the plan a reviewer reads.

use crate::bundle;
use infra_core::exit::ExitStatus;
use infra_core::output::Report;
use infra_notify::http::{self, HttpError, Request, Response};
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// GitHub refuses comments over 65,536 characters; this leaves room for the header.
pub const MAX_COMMENT_BYTES: usize = 65_536;
/// The public API; GitHub Enterprise through `GITHUB_API_URL`.
pub const DEFAULT_API: &str = "https://api.github.com";
/// Comments per page asked for (GitHub's maximum).
const PER_PAGE: usize = 100;
/// Requests per API call at most (429 / 5xx are retried).
const MAX_ATTEMPTS: u32 = 4;

/// What `tf-wrap comment` was asked.
#[derive(Debug, Clone)]
pub struct CommentRequest {
    /// The bundle written by `tf-wrap plan`.
    pub bundle: PathBuf,
    /// `OWNER/REPO#N`; else `CIRCLE_PULL_REQUEST`.
    pub pr: Option<String>,
    /// The summary's limit (it is also kept under GitHub's).
    pub max_bytes: usize,
    /// How long the whole command may take.
    pub deadline: Duration,
    /// The login whose comment is updated (`--author`, else `TF_WRAP_COMMENT_AUTHOR`, else
    /// the token's own, from `GET /user`).
    pub author: Option<String>,
}

/// The variable naming the comment's author when `--author` is not given.
pub const AUTHOR_ENV: &str = "TF_WRAP_COMMENT_AUTHOR";

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository.
    pub repo: String,
    /// The number.
    pub number: u64,
}

impl std::fmt::Display for PullRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}#{}", self.owner, self.repo, self.number)
    }
}

impl PullRequest {
    /// `OWNER/REPO#N`.
    pub fn parse(text: &str) -> Option<PullRequest> {
        let (repo, number) = text.trim().split_once('#')?;
        let (owner, repo) = repo.split_once('/')?;
        PullRequest::new(owner, repo, number)
    }

    /// CircleCI's `CIRCLE_PULL_REQUEST`: `https://github.com/OWNER/REPO/pull/N` (or a
    /// GitHub Enterprise host).
    pub fn from_url(url: &str) -> Option<PullRequest> {
        let url = http::Url::parse(url.trim()).ok()?;
        let parts: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        match parts.as_slice() {
            [owner, repo, "pull", number] => PullRequest::new(owner, repo, number),
            _ => None,
        }
    }

    fn new(owner: &str, repo: &str, number: &str) -> Option<PullRequest> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        (ok(owner) && ok(repo)).then_some(())?;
        Some(PullRequest {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            number: number.parse().ok().filter(|n| *n > 0)?,
        })
    }
}

/// Why no comment was posted.
#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// `--pr` or `CIRCLE_PULL_REQUEST` is not a pull request.
    #[error("{0}")]
    PullRequest(String),
    /// Neither `GITHUB_TOKEN` nor `GH_TOKEN` is set.
    #[error("no GitHub token: set GITHUB_TOKEN or GH_TOKEN (a token that may write pull-request comments)")]
    NoToken,
    /// `GITHUB_API_URL` is not a URL the token may be sent to.
    #[error("{0}")]
    ApiUrl(String),
    /// The token's identity cannot be read and no author was given.
    #[error("cannot tell which comments are tf-wrap's: GET /user answered {status} (as it does for a GitHub App installation token, which has no user); pass --author LOGIN (the app's bot login, such as my-app[bot]) or set TF_WRAP_COMMENT_AUTHOR")]
    NoIdentity {
        /// What `GET /user` answered.
        status: u16,
    },
    /// The bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    /// GitHub refused (401 / 403 / 404 / 422…).
    #[error("GitHub answered {status} when {doing} {pr}{hint}")]
    Refused {
        /// The status code.
        status: u16,
        /// What was being done.
        doing: &'static str,
        /// The pull request.
        pr: PullRequest,
        /// What to check.
        hint: String,
    },
    /// No answer (or a 5xx / 429 after retries).
    #[error("GitHub did not answer when {doing} {pr}: {reason}")]
    Unanswered {
        /// What was being done.
        doing: &'static str,
        /// The pull request.
        pr: PullRequest,
        /// Why.
        reason: String,
    },
    /// An answer we cannot read.
    #[error("GitHub's answer when {doing} {pr} cannot be read: {reason}")]
    Unreadable {
        /// What was being done.
        doing: &'static str,
        /// The pull request.
        pr: PullRequest,
        /// Why.
        reason: String,
    },
}

impl CommentError {
    /// 2 for bad input, 4 for a bundle changed after it was planned, 1 when GitHub
    /// refused or did not answer.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CommentError::Bundle(bundle::BundleError::Mismatch { .. }) => ExitStatus::Refused,
            CommentError::PullRequest(_)
            | CommentError::NoToken
            | CommentError::ApiUrl(_)
            | CommentError::NoIdentity { .. }
            | CommentError::Bundle(_) => ExitStatus::InvalidInput,
            CommentError::Refused { .. }
            | CommentError::Unanswered { .. }
            | CommentError::Unreadable { .. } => ExitStatus::Failure,
        }
    }
}

/// What `tf-wrap comment` did (JSON schema `tf-wrap/comment`).
#[derive(Debug, Clone, Serialize)]
pub struct CommentReport {
    /// The bundle's environment.
    pub environment: String,
    /// `created`, `updated`, or `skipped` (not on a pull request).
    pub action: &'static str,
    /// `OWNER/REPO#N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// The comment's page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_url: Option<String>,
    /// The comment's ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<u64>,
    /// Pages of comments read to find this environment's comment.
    pub pages_searched: usize,
    /// The comment's size in bytes.
    pub bytes: usize,
    /// The login whose marked comment is tf-wrap's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comments carrying this environment's marker written by someone else: left alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<IgnoredComment>,
}

/// A marked comment tf-wrap did not write, left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredComment {
    /// Its ID.
    pub id: u64,
    /// Who wrote it.
    pub author: String,
}

impl Report for CommentReport {
    const SCHEMA: &'static str = "tf-wrap/comment";

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        match (self.action, &self.pull_request, &self.comment_url) {
            ("skipped", _, _) => writeln!(
                out,
                "not on a pull request (no --pr, no CIRCLE_PULL_REQUEST): nothing posted"
            ),
            (action, Some(pr), url) => writeln!(
                out,
                "{action} the tf-wrap comment for {} on {pr}: {}",
                self.environment,
                url.as_deref().unwrap_or("-")
            ),
            _ => Ok(()),
        }
    }
}

/// The hidden marker of `environment`'s comment.
pub fn marker(environment: &str) -> String {
    format!("<!-- tf-wrap:{environment} -->")
}

/// Posts (or updates) the bundle's comment.
pub async fn comment(request: CommentRequest) -> Result<CommentReport, CommentError> {
    let until = Instant::now() + request.deadline;
    let manifest = bundle::read_manifest(&request.bundle)?;
    // The name goes into the comment's hidden marker: nothing that could end the HTML
    // comment or match another environment's.
    if !infra_core::environment::valid_name(&manifest.environment) {
        return Err(CommentError::Bundle(bundle::BundleError::Mismatch {
            dir: request.bundle.clone(),
            reasons: vec![format!(
                "{} names environment \"{}\", which is not an environment name",
                bundle::MANIFEST,
                manifest.environment
            )],
        }));
    }
    let summary = crate::plan::Summary::of(&bundle::read_plan_json(&request.bundle)?);
    let pr = match &request.pr {
        Some(text) => Some(PullRequest::parse(text).ok_or_else(|| {
            CommentError::PullRequest(format!(
                "--pr \"{text}\" is not a pull request: expected OWNER/REPO#NUMBER"
            ))
        })?),
        None => match std::env::var("CIRCLE_PULL_REQUEST") {
            Ok(url) if !url.trim().is_empty() => {
                Some(PullRequest::from_url(&url).ok_or_else(|| {
                    CommentError::PullRequest(format!(
                        "CIRCLE_PULL_REQUEST \"{url}\" is not a pull request URL (https://HOST/OWNER/REPO/pull/N)"
                    ))
                })?)
            }
            _ => None,
        },
    };
    let Some(pr) = pr else {
        return Ok(CommentReport {
            environment: manifest.environment,
            action: "skipped",
            pull_request: None,
            comment_url: None,
            comment_id: None,
            pages_searched: 0,
            bytes: 0,
            author: None,
            ignored: Vec::new(),
        });
    };
    let token = ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|t| !t.trim().is_empty()))
        .ok_or(CommentError::NoToken)?;
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API.to_owned());
    // The token goes to it: https only (loopback excepted, for a local relay and tests).
    let api = http::secret_url("GITHUB_API_URL", api.trim_end_matches('/'))
        .map_err(CommentError::ApiUrl)?;

    let body = comment_body(&manifest, &summary, &request);
    let github = GitHub {
        api,
        token,
        pr: pr.clone(),
        tls: http::tls_config(&[]).map_err(|reason| CommentError::Unanswered {
            doing: "setting up TLS for",
            pr: pr.clone(),
            reason,
        })?,
        until,
    };
    let author = match request
        .author
        .clone()
        .or_else(|| std::env::var(AUTHOR_ENV).ok())
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
    {
        Some(author) => author,
        None => github.login().await?,
    };
    let marker = marker(&manifest.environment);
    let found = github.find(&marker, &author).await?;
    let (existing, pages) = (found.ours, found.pages);
    if !found.ignored.is_empty() {
        let by: Vec<&str> = found.ignored.iter().map(|c| c.author.as_str()).collect();
        tracing::warn!(
            "{} comment(s) on {pr} carry the {} marker but were written by {} (not {author}): left alone; tf-wrap's own comment is {}",
            found.ignored.len(),
            manifest.environment,
            by.join(", "),
            if existing.is_some() { "updated" } else { "created" }
        );
    }
    let payload = serde_json::json!({ "body": body });
    let (action, answer) = match existing {
        Some(id) => (
            "updated",
            github
                .call(
                    http::Method::PATCH,
                    &format!("issues/comments/{id}"),
                    Some(&payload),
                    "updating the comment on",
                )
                .await?,
        ),
        None => (
            "created",
            github
                .call(
                    http::Method::POST,
                    &format!("issues/{}/comments", pr.number),
                    Some(&payload),
                    "creating a comment on",
                )
                .await?,
        ),
    };
    let created: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|e| CommentError::Unreadable {
            doing: "posting the comment on",
            pr: pr.clone(),
            reason: e.to_string(),
        })?;
    Ok(CommentReport {
        environment: manifest.environment,
        action,
        pull_request: Some(pr.to_string()),
        comment_url: created["html_url"].as_str().map(str::to_owned),
        comment_id: created["id"].as_u64(),
        pages_searched: pages,
        bytes: body.len(),
        author: Some(author),
        ignored: found.ignored,
    })
}

/// The comment: the marker, the environment, the commit planned, whether the bundle is
/// signed, the CI job, then the summary (cut to fit GitHub's limit, every deletion and
/// replacement kept).
fn comment_body(
    manifest: &bundle::Manifest,
    summary: &crate::plan::Summary,
    request: &CommentRequest,
) -> String {
    let mut head = format!(
        "{}\n#### `tf-wrap plan`: {}\n\n",
        marker(&manifest.environment),
        manifest.environment
    );
    let mut facts = Vec::new();
    // The manifest and the CI context come from outside: only what they should hold is
    // shown (a commit's hex digits, an RFC 3339 time, an https URL with nothing that could
    // end a Markdown link), never their raw text.
    match &manifest.git_commit {
        Some(c) => facts.push(format!(
            "commit `{}`{}",
            c.chars()
                .filter(char::is_ascii_hexdigit)
                .take(12)
                .collect::<String>(),
            if manifest.git_dirty {
                " (with uncommitted changes)"
            } else {
                ""
            }
        )),
        None => facts.push("no git commit recorded".to_owned()),
    }
    // A signature file is not a verified signature: the apply job verifies it.
    let signed = request.bundle.join(bundle::SIGNATURE).is_file();
    facts.push(if signed {
        "signature present (verified by the apply job, not here)".to_owned()
    } else {
        "bundle **not signed**".to_owned()
    });
    facts.push(match humantime::parse_rfc3339(manifest.created_at.trim()) {
        Ok(at) => format!("planned {}", humantime::format_rfc3339_seconds(at)),
        Err(_) => "planned at an unreadable time".to_owned(),
    });
    if let Some(url) = std::env::var(infra_notify::JOB_URL_ENV)
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| http::plain_https_url(u))
    {
        facts.push(format!("[CI job]({url})"));
    }
    head.push_str(&facts.join(" · "));
    head.push_str("\n\n");
    let room = request
        .max_bytes
        .min(MAX_COMMENT_BYTES - 1)
        .saturating_sub(head.len());
    head.push_str(&summary.to_markdown_within(room, "`plan.json` in the bundle (CI artifacts)"));
    head
}

/// What the comment search found.
struct Found {
    /// tf-wrap's own comment (the marker, written by the author).
    ours: Option<u64>,
    /// Pages read.
    pages: usize,
    /// Marked comments by anyone else.
    ignored: Vec<IgnoredComment>,
}

struct GitHub {
    api: http::Url,
    token: String,
    pr: PullRequest,
    tls: http::Tls,
    until: Instant,
}

impl GitHub {
    /// `…/repos/OWNER/REPO/` + `path`.
    fn url(&self, path: &str) -> http::Url {
        let mut url = self.api.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!(
            "{base}/repos/{}/{}/{path}",
            self.pr.owner, self.pr.repo
        ));
        url
    }

    fn request(
        &self,
        method: http::Method,
        url: http::Url,
        body: Option<&serde_json::Value>,
    ) -> Request {
        Request {
            method,
            url,
            headers: vec![
                ("Authorization".into(), format!("Bearer {}", self.token)),
                ("Accept".into(), "application/vnd.github+json".into()),
                ("X-GitHub-Api-Version".into(), "2022-11-28".into()),
            ],
            body: body.map(|b| serde_json::to_vec(b).unwrap_or_default()),
        }
    }

    async fn send(&self, request: &Request, doing: &'static str) -> Result<Response, CommentError> {
        let retried = http::send_retrying(request, &self.tls, self.until, MAX_ATTEMPTS).await;
        let unanswered = |reason: String| CommentError::Unanswered {
            doing,
            pr: self.pr.clone(),
            reason,
        };
        match retried.result {
            Ok(r) if (200..300).contains(&r.status) => Ok(r),
            Ok(r) if r.status == 429 || r.status >= 500 || http::rate_limited(&r) => {
                Err(unanswered(format!(
                    "HTTP {}{} after {} attempt(s)",
                    r.status,
                    if r.status == 403 {
                        " (rate limited)"
                    } else {
                        ""
                    },
                    retried.attempts
                )))
            }
            Ok(r) => Err(CommentError::Refused {
                status: r.status,
                doing,
                pr: self.pr.clone(),
                hint: refused_hint(r.status),
            }),
            Err(e @ HttpError::Timeout(_)) => Err(unanswered(format!("{e} (the deadline)"))),
            Err(e) => Err(unanswered(e.to_string())),
        }
    }

    async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        doing: &'static str,
    ) -> Result<Response, CommentError> {
        self.send(&self.request(method, self.url(path), body), doing)
            .await
    }

    /// The token's login (`GET /user`); an installation token's 403 asks for `--author`.
    async fn login(&self) -> Result<String, CommentError> {
        let mut url = self.api.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/user"));
        let doing = "reading the token's user for";
        match self
            .send(&self.request(http::Method::GET, url, None), doing)
            .await
        {
            Ok(answer) => serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["login"].as_str().map(str::to_owned))
                .filter(|l| !l.is_empty())
                .ok_or_else(|| CommentError::Unreadable {
                    doing,
                    pr: self.pr.clone(),
                    reason: "no `login` in GET /user's answer".into(),
                }),
            Err(CommentError::Refused { status: 403, .. }) => {
                Err(CommentError::NoIdentity { status: 403 })
            }
            Err(e) => Err(e),
        }
    }

    /// The comment carrying `marker` written by `author`, through every page (or to the
    /// first such one); the pages read; the marked comments by others.
    async fn find(&self, marker: &str, author: &str) -> Result<Found, CommentError> {
        let doing = "listing the comments of";
        let mut url = self.url(&format!("issues/{}/comments", self.pr.number));
        url.set_query(Some(&format!("per_page={PER_PAGE}")));
        let mut pages = 0;
        let mut ignored = Vec::new();
        // A `Link` back to a page already read would loop until the deadline.
        let mut read = std::collections::HashSet::new();
        loop {
            pages += 1;
            read.insert(url.to_string());
            let answer = self
                .send(&self.request(http::Method::GET, url.clone(), None), doing)
                .await?;
            let comments: Vec<serde_json::Value> =
                serde_json::from_slice(&answer.body).map_err(|e| CommentError::Unreadable {
                    doing,
                    pr: self.pr.clone(),
                    reason: e.to_string(),
                })?;
            for c in &comments {
                if !c["body"].as_str().is_some_and(|b| b.starts_with(marker)) {
                    continue;
                }
                let login = c["user"]["login"].as_str().unwrap_or_default();
                if login.eq_ignore_ascii_case(author) {
                    return Ok(Found {
                        ours: c["id"].as_u64(),
                        pages,
                        ignored,
                    });
                }
                ignored.push(IgnoredComment {
                    id: c["id"].as_u64().unwrap_or_default(),
                    author: if login.is_empty() {
                        "an unknown user".into()
                    } else {
                        login.to_owned()
                    },
                });
            }
            match answer.header("link").and_then(next_link) {
                None => {
                    return Ok(Found {
                        ours: None,
                        pages,
                        ignored,
                    })
                }
                Some(next) => {
                    let next = http::Url::parse(&next)
                        .ok()
                        .filter(|n| n.origin() == self.api.origin())
                        .ok_or_else(|| CommentError::Unreadable {
                            doing,
                            pr: self.pr.clone(),
                            reason: "its next page is not on the API's host (the token is not sent elsewhere)".into(),
                        })?;
                    if read.contains(next.as_str()) || pages >= MAX_PAGES {
                        return Err(CommentError::Unreadable {
                            doing,
                            pr: self.pr.clone(),
                            reason: format!(
                                "after {pages} pages its `Link` header points back to a page already read, or past {MAX_PAGES} pages: the listing does not end"
                            ),
                        });
                    }
                    url = next;
                }
            }
        }
    }
}

/// The most pages of comments read (100 each: 100,000 comments) before the listing is
/// taken as one that does not end.
const MAX_PAGES: usize = 1_000;

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn refused_hint(status: u16) -> String {
    match status {
        401 => {
            ": the token is not valid (expired or revoked); check GITHUB_TOKEN / GH_TOKEN".into()
        }
        403 => ": the token may not write comments there; check its scope (fine-grained: \
                Pull requests and Issues read and write; classic: repo) and the repository's \
                access"
            .into(),
        404 => ": check the repository name and the pull-request number, and that the token \
                can see the repository"
            .into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_requests_parse_from_the_flag_and_circleci() {
        let pr = PullRequest {
            owner: "acme".into(),
            repo: "infra.prod".into(),
            number: 42,
        };
        assert_eq!(PullRequest::parse("acme/infra.prod#42"), Some(pr.clone()));
        assert_eq!(
            PullRequest::from_url("https://github.com/acme/infra.prod/pull/42"),
            Some(pr)
        );
        for bad in [
            "acme/infra",
            "acme#1",
            "acme/infra#0",
            "a b/c#1",
            "acme/infra#x",
        ] {
            assert_eq!(PullRequest::parse(bad), None, "{bad}");
        }
        assert_eq!(
            PullRequest::from_url("https://github.com/acme/infra/issues/4"),
            None
        );
    }

    #[test]
    fn the_next_link_is_found() {
        let h = r#"<https://api.github.com/repositories/1/issues/2/comments?page=2>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=9>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=2")
        );
        assert_eq!(
            next_link(r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#),
            None
        );
    }
}
