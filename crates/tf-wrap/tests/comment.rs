//! `tf-wrap comment` against the harness' HTTP stub standing in for GitHub's REST API (no
//! GitHub is reachable here): a fake that keeps a pull request's comments, lists them 100
//! a page with a `Link` header to the next page, creates and updates them, and checks the
//! token. Like GitHub, it knows who wrote each comment (`user.login`; the token is
//! `tf-wrap-bot`'s, `GET /user`), refuses to update someone else's (403), and answers
//! `GET /user` 403 for an installation token. The bundles are made from the shared fixtures' real `terraform show -json` plans.

use infra_test_support::{shared_fixtures, workspace_binary, Answer, HttpStub, Run, StubRequest};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "ghp_testtokenthatmustneverbeprinted";
const PR: &str = "acme/infra#7";
const JOB_URL: &str = "https://circleci.com/gh/acme/infra/99";

/// The token's user.
const BOT: &str = "tf-wrap-bot";

/// (id, body, author's login).
type Comments = Arc<Mutex<Vec<(u64, String, String)>>>;

/// The fake GitHub: the pull request `acme/infra#7`'s comments, and a status every request
/// gets instead when set (a refusal).
struct GitHub {
    stub: HttpStub,
    comments: Comments,
    refuse: Arc<Mutex<Option<u16>>>,
    /// `GET /user` answers 403, as for a GitHub App installation token.
    app_token: Arc<Mutex<bool>>,
    /// The next this many requests get GitHub's rate-limit 403 (`x-ratelimit-remaining:
    /// 0`, `retry-after: 1`).
    throttle: Arc<Mutex<u32>>,
}

impl GitHub {
    fn start(others: usize) -> GitHub {
        let comments: Comments = Arc::new(Mutex::new(
            (0..others)
                .map(|i| {
                    (
                        i as u64 + 1,
                        format!("a review comment {i}"),
                        "reviewer".to_owned(),
                    )
                })
                .collect(),
        ));
        let refuse = Arc::new(Mutex::new(None));
        let app_token = Arc::new(Mutex::new(false));
        let throttle = Arc::new(Mutex::new(0));
        let (c, r, a, t) = (
            Arc::clone(&comments),
            Arc::clone(&refuse),
            Arc::clone(&app_token),
            Arc::clone(&throttle),
        );
        let stub = HttpStub::handler(move |req| {
            let mut left = t.lock().unwrap();
            if *left > 0 && req.path.contains("/comments") {
                *left -= 1;
                return Answer::json(
                    403,
                    r#"{"message":"You have exceeded a secondary rate limit"}"#,
                )
                .header("x-ratelimit-remaining", "0")
                .header("retry-after", "1");
            }
            drop(left);
            answer(req, &c, &r, &a)
        });
        GitHub {
            stub,
            comments,
            refuse,
            app_token,
            throttle,
        }
    }

    /// `login` posts a comment with `body` (as anyone who can comment can).
    fn post_as(&self, login: &str, body: &str) -> u64 {
        let mut comments = self.comments.lock().unwrap();
        let id = 500_000 + comments.len() as u64;
        comments.push((id, body.to_owned(), login.to_owned()));
        id
    }

    fn body_of(&self, id: u64) -> String {
        let comments = self.comments.lock().unwrap();
        comments.iter().find(|c| c.0 == id).unwrap().1.clone()
    }

    fn api(&self) -> String {
        self.stub.url("/api/v3")
    }

    /// The marked comments tf-wrap's token wrote.
    fn marked(&self) -> Vec<(u64, String)> {
        self.comments
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b, by)| b.starts_with("<!-- tf-wrap:prod -->") && by == BOT)
            .map(|(id, b, _)| (*id, b.clone()))
            .collect()
    }

    fn requests(&self) -> usize {
        self.stub
            .requests("/api/v3/repos/acme/infra/issues/7/comments")
            .len()
    }
}

fn answer(
    req: &StubRequest,
    comments: &Comments,
    refuse: &Mutex<Option<u16>>,
    app_token: &Mutex<bool>,
) -> Answer {
    if req.header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return Answer::json(401, r#"{"message":"Bad credentials"}"#);
    }
    // Any valid token may read its own user (a refusal below is about the repository).
    if (req.method.as_str(), req.path.as_str()) == ("GET", "/api/v3/user") {
        return match *app_token.lock().unwrap() {
            true => Answer::json(
                403,
                r#"{"message":"Resource not accessible by integration"}"#,
            ),
            false => Answer::json(200, &serde_json::json!({ "login": BOT }).to_string()),
        };
    }
    if let Some(status) = *refuse.lock().unwrap() {
        return Answer::json(
            status,
            r#"{"message":"Resource not accessible by integration"}"#,
        );
    }
    let host = req.header("host").unwrap();
    let base = format!("http://{host}/api/v3/repos/acme/infra/issues");
    let item = |id: u64, body: &str, by: &str| {
        serde_json::json!({
            "id": id,
            "body": body,
            "user": { "login": by },
            "html_url": format!("https://github.example/acme/infra/pull/7#issuecomment-{id}"),
        })
    };
    let mut comments = comments.lock().unwrap();
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v3/repos/acme/infra/issues/7/comments") => {
            let param = |k: &str| {
                req.query
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{k}=")))
                    .and_then(|v| v.parse::<usize>().ok())
            };
            let per_page = param("per_page").unwrap_or(30);
            let page = param("page").unwrap_or(1);
            let start = (page - 1) * per_page;
            let items: Vec<serde_json::Value> = comments
                .iter()
                .skip(start)
                .take(per_page)
                .map(|(id, b, by)| item(*id, b, by))
                .collect();
            let mut a = Answer::json(200, &serde_json::Value::from(items).to_string());
            if start + per_page < comments.len() {
                a = a.header(
                    "Link",
                    &format!(
                        "<{base}/7/comments?per_page={per_page}&page={}>; rel=\"next\", <{base}/7/comments?per_page={per_page}&page=999>; rel=\"last\"",
                        page + 1
                    ),
                );
            }
            a
        }
        ("POST", "/api/v3/repos/acme/infra/issues/7/comments") => {
            let body = req.json()["body"].as_str().unwrap().to_owned();
            let id = 1_000_000 + comments.len() as u64;
            comments.push((id, body.clone(), BOT.to_owned()));
            Answer::json(201, &item(id, &body, BOT).to_string())
        }
        ("PATCH", path) if path.starts_with("/api/v3/repos/acme/infra/issues/comments/") => {
            let id: u64 = path.rsplit('/').next().unwrap().parse().unwrap();
            let body = req.json()["body"].as_str().unwrap().to_owned();
            match comments.iter_mut().find(|(i, _, _)| *i == id) {
                Some(c) if c.2 != BOT => Answer::json(
                    403,
                    r#"{"message":"You must be the author of this comment to edit it"}"#,
                ),
                Some(c) => {
                    c.1 = body.clone();
                    Answer::json(200, &item(id, &body, BOT).to_string())
                }
                None => Answer::json(404, r#"{"message":"Not Found"}"#),
            }
        }
        _ => Answer::json(404, r#"{"message":"Not Found"}"#),
    }
}

/// A plan (from the `local_provider_delete` fixture) and a maker of its resource changes:
/// `change(address, action)`.
fn plan_template() -> (
    serde_json::Value,
    impl Fn(String, &str) -> serde_json::Value,
) {
    let plan: serde_json::Value =
        serde_json::from_slice(&fixture("local_provider_delete")).unwrap();
    let mut template = plan["resource_changes"][0].clone();
    template.as_object_mut().unwrap().remove("action_reason");
    let change = move |address: String, action: &str| {
        let mut c = template.clone();
        c["address"] = address.clone().into();
        c["name"] = address.into();
        c["change"]["actions"] = serde_json::json!([action]);
        c
    };
    (plan, change)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        shared_fixtures()
            .join("terraform/show-json")
            .join(name)
            .join("plan.json"),
    )
    .unwrap()
}

/// A bundle of the fixture's plan, as `tf-wrap plan` writes it (manifest and plan JSON).
fn bundle(dir: &Path, fixture_name: &str, commit: &str) -> PathBuf {
    bundle_of(dir, fixture(fixture_name), commit)
}

fn bundle_of(dir: &Path, plan: Vec<u8>, commit: &str) -> PathBuf {
    let b = dir.join(format!("bundle-{commit}"));
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("plan.json"), &plan).unwrap();
    let manifest = serde_json::json!({
        "schema": "tf-wrap/bundle",
        "schema_version": 1,
        "environment": "prod",
        "created_at": "2026-12-06T05:00:00Z",
        "created_by": "tf-wrap 0.1.0",
        "terraform_version": "1.0.3",
        "plan_sha256": "0".repeat(64),
        "plan_json_sha256": tf_wrap::digest::sha256_hex(&plan),
        "lock_file_sha256": null,
        "git_commit": commit,
        "git_dirty": false,
        "summary_digest": "",
        "has_changes": true,
        "allow_destroy": [],
        "allow_unpark": false,
    });
    std::fs::write(b.join("manifest.json"), manifest.to_string()).unwrap();
    b
}

fn comment(github: Option<&GitHub>, bundle: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = std::process::Command::new(workspace_binary("tf-wrap"));
    for v in [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GITHUB_API_URL",
        "CIRCLE_PULL_REQUEST",
        "CIRCLE_BUILD_URL",
    ] {
        cmd.env_remove(v);
    }
    if let Some(g) = github {
        cmd.env("GITHUB_API_URL", g.api());
    }
    cmd.env("GITHUB_TOKEN", TOKEN)
        .env("CIRCLE_BUILD_URL", JOB_URL)
        .envs(vars.iter().copied())
        .arg("comment")
        .arg("--bundle")
        .arg(bundle)
        .args(args);
    let r: Run = cmd.output().unwrap().into();
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

#[test]
fn the_first_push_creates_the_comment_and_the_next_updates_it() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(3);
    let first = bundle(dir.path(), "local_provider_update", "4f2a9c1e0b7d");
    let r = comment(
        Some(&github),
        &first,
        &["--pr", PR, "--output", "json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let created = r.json();
    assert_eq!(created["action"], "created", "{created}");
    let marked = github.marked();
    assert_eq!(marked.len(), 1);
    let body = &marked[0].1;
    for needle in [
        "commit `4f2a9c1e0b7d`",
        "**not signed**",
        JOB_URL,
        "### Terraform plan",
    ] {
        assert!(body.contains(needle), "{needle} not in {body}");
    }

    // The next push: the same comment, updated; none added. The pull request comes from
    // CircleCI's variable this time.
    let second = bundle(dir.path(), "local_provider_delete", "9e8d7c6b5a43");
    let r = comment(
        Some(&github),
        &second,
        &["--output", "json"],
        &[(
            "CIRCLE_PULL_REQUEST",
            "https://github.com/acme/infra/pull/7",
        )],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let updated = r.json();
    assert_eq!(updated["action"], "updated", "{updated}");
    assert_eq!(updated["comment_id"], created["comment_id"]);
    let marked = github.marked();
    assert_eq!(marked.len(), 1, "still one comment");
    assert!(
        marked[0].1.contains("commit `9e8d7c6b5a43`"),
        "{}",
        marked[0].1
    );
    assert!(marked[0].1.contains("**delete** (1)"), "{}", marked[0].1);
    assert_eq!(github.comments.lock().unwrap().len(), 4);
}

#[test]
fn a_120_page_history_is_searched_to_its_last_page() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(11_950);
    let b = bundle(dir.path(), "local_provider_update", "4f2a9c1e0b7d");
    // No comment of ours in 120 pages: every page read, then one created (page 120).
    let r = comment(Some(&github), &b, &["--pr", PR, "--output", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["pages_searched"], 120);
    assert_eq!(r.json()["action"], "created");
    // Now it is the 11,951st comment, on the last page: found there and updated.
    let r = comment(Some(&github), &b, &["--pr", PR, "--output", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["action"], "updated");
    assert_eq!(r.json()["pages_searched"], 120);
    assert_eq!(github.marked().len(), 1);
}

#[test]
fn a_refusal_is_exit_1_naming_the_status_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(1);
    let b = bundle(dir.path(), "local_provider_update", "4f2a9c1e0b7d");
    *github.refuse.lock().unwrap() = Some(403);
    let r = comment(Some(&github), &b, &["--pr", PR], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("GitHub answered 403 when listing the comments of acme/infra#7")
            && r.stderr.contains("scope"),
        "{}",
        r.stderr
    );
    *github.refuse.lock().unwrap() = None;
    // A wrong token: 401, exit 1, and the token is still never printed (checked by
    // `comment`).
    let r = comment(
        Some(&github),
        &b,
        &["--pr", PR],
        &[("GITHUB_TOKEN", "ghp_wrongtoken")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(!r.stderr.contains("ghp_wrongtoken"), "{}", r.stderr);
    assert!(github.marked().is_empty());
}

#[test]
fn not_on_a_pull_request_nothing_is_posted() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(0);
    let b = bundle(dir.path(), "local_provider_update", "4f2a9c1e0b7d");
    let r = comment(Some(&github), &b, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("not on a pull request"), "{}", r.stdout);
    assert_eq!(github.requests(), 0);
    // A malformed --pr is bad input.
    let r = comment(Some(&github), &b, &["--pr", "acme/infra"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("expected OWNER/REPO#NUMBER"),
        "{}",
        r.stderr
    );
}

/// A plan far over the limit: the comment stays under it, with the counts and every
/// deletion kept and the cut lists saying how many were left out.
#[test]
fn a_plan_too_large_for_one_comment_keeps_every_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(0);
    let (mut plan, change) = plan_template();
    let mut changes: Vec<serde_json::Value> = (0..3000)
        .map(|i| {
            change(
                format!("local_file.created_with_a_long_name_{i:05}"),
                "create",
            )
        })
        .collect();
    changes.extend((0..3).map(|i| change(format!("local_file.deleted_{i}"), "delete")));
    plan["resource_changes"] = changes.into();
    let b = bundle_of(
        dir.path(),
        serde_json::to_vec(&plan).unwrap(),
        "4f2a9c1e0b7d",
    );
    let r = comment(Some(&github), &b, &["--pr", PR, "--max-bytes", "6000"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let marked = github.marked();
    let body = &marked[0].1;
    assert!(body.len() <= 6000, "{} bytes", body.len());
    for i in 0..3 {
        assert!(
            body.contains(&format!("`local_file.deleted_{i}`")),
            "{body}"
        );
    }
    assert!(body.contains("| 3000 | 0 | 0 | 3 |"), "{body}");
    assert!(body.contains("left out"), "{body}");
}

/// 700 deletions with long addresses (about 78,000 bytes of list): the comment GitHub's
/// stand-in receives stays within 65,536 characters, keeps the counts, keeps as many
/// deletions as fit, and says how many were cut and that the bundle's `plan.json` has
/// them; the updates are cut first (none shown).
#[test]
fn a_700_deletion_plan_fits_one_comment_and_says_what_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(0);
    let (mut plan, change) = plan_template();
    let long = "module.analytics_platform.module.regional_fleet[\"eu-west-2\"].aws_ecs_service";
    let mut changes: Vec<serde_json::Value> = (0..700)
        .map(|i| change(format!("{long}.retired_worker_{i:04}"), "delete"))
        .collect();
    changes.extend((0..50).map(|i| change(format!("local_file.updated_{i}"), "update")));
    plan["resource_changes"] = changes.into();
    let b = bundle_of(
        dir.path(),
        serde_json::to_vec(&plan).unwrap(),
        "4f2a9c1e0b7d",
    );
    let r = comment(Some(&github), &b, &["--pr", PR], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let marked = github.marked();
    let body = &marked[0].1;
    assert!(
        body.chars().count() <= 65_536,
        "{} chars",
        body.chars().count()
    );
    assert!(body.contains("| 0 | 50 | 0 | 700 |"), "{body}");
    let shown = (0..700)
        .filter(|i| body.contains(&format!("retired_worker_{i:04}`")))
        .count();
    assert!(shown > 500, "{shown} deletions shown");
    assert!(shown < 700, "the test plan must not fit: {shown}");
    assert!(
        body.contains(&format!(
            "- … and {} more, left out to stay under",
            700 - shown
        )) && body.contains("`plan.json` in the bundle"),
        "{}",
        &body[body.len().saturating_sub(800)..]
    );
    assert!(
        !body.contains("local_file.updated_0"),
        "updates are cut first"
    );
    assert!(
        body.contains("- all 50 left out"),
        "{}",
        &body[body.len().saturating_sub(800)..]
    );
}

/// A manifest whose environment is not an environment name (it would end the hidden
/// marker early) is refused before anything is sent: exit 4.
#[test]
fn a_forged_environment_name_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let github = GitHub::start(0);
    let b = bundle(dir.path(), "local_provider_update", "4f2a9c1e0b7d");
    let path = b.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["environment"] = "prod --> <!-- tf-wrap:staging".into();
    std::fs::write(&path, manifest.to_string()).unwrap();
    let r = comment(Some(&github), &b, &["--pr", PR], &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not an environment name"),
        "{}",
        r.stderr
    );
    assert_eq!(github.requests(), 0);
}

/// A comment that starts with the marker but was written by someone else (posted before
/// the first plan, to be edited later into "No changes") is left alone: a new comment is
/// created, and the next push updates that one, never theirs.
#[test]
fn a_marked_comment_by_someone_else_is_left_alone() {
    let github = GitHub::start(3);
    let planted = github.post_as(
        "mallory",
        "<!-- tf-wrap:prod -->\n#### `tf-wrap plan`: prod\n\nNo changes.",
    );
    let dir = tempfile::tempdir().unwrap();
    let first = bundle(&dir.path().join("a"), "local_provider_update", "aaaa1111");
    let r = comment(
        Some(&github),
        &first,
        &["--pr", PR, "--output", "json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = r.json();
    assert_eq!(json["action"], "created", "{json}");
    assert_eq!(json["author"], BOT, "{json}");
    assert_eq!(json["ignored"][0]["author"], "mallory", "{json}");
    assert_eq!(json["ignored"][0]["id"], planted, "{json}");
    assert!(
        r.stderr.contains("written by mallory") && r.stderr.contains("left alone"),
        "{}",
        r.stderr
    );
    assert_eq!(github.marked().len(), 1);
    let ours = github.marked()[0].0;
    let second = bundle(&dir.path().join("b"), "local_provider_update", "bbbb2222");
    let r = comment(
        Some(&github),
        &second,
        &["--pr", PR, "--output", "json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["action"], "updated");
    assert_eq!(r.json()["comment_id"], ours);
    assert!(github.marked()[0].1.contains("bbbb2222"));
    assert!(
        github.body_of(planted).ends_with("No changes."),
        "theirs untouched"
    );
}

/// A GitHub App installation token has no `/user`: without `--author` the command says
/// what to pass (exit 2, nothing posted); with it (flag or variable), its comment is found.
#[test]
fn an_installation_token_needs_the_author_named() {
    let github = GitHub::start(1);
    *github.app_token.lock().unwrap() = true;
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), "local_provider_update", "cccc3333");
    let r = comment(Some(&github), &b, &["--pr", PR], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--author") && r.stderr.contains("403"),
        "{}",
        r.stderr
    );
    assert!(github.marked().is_empty());
    let r = comment(Some(&github), &b, &["--pr", PR, "--author", BOT], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = comment(
        Some(&github),
        &b,
        &["--pr", PR, "--output", "json"],
        &[("TF_WRAP_COMMENT_AUTHOR", BOT)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["action"], "updated", "{}", r.stdout);
    assert_eq!(github.marked().len(), 1);
}

/// What the comment interpolates from the manifest and the CI context is shown only as
/// what it should be: a forged `created_at` or job URL cannot add links or markup, and a
/// signature file is not called a verified signature.
#[test]
fn the_comment_interpolates_nothing_raw() {
    let github = GitHub::start(0);
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), "local_provider_update", "dddd4444");
    let manifest = b.join("manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("2026-12-06T05:00:00Z", "[Approve](https://evil.example)");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(b.join("signature.json"), "{}").unwrap();
    let r = comment(
        Some(&github),
        &b,
        &["--pr", PR],
        &[(
            "CIRCLE_BUILD_URL",
            "https://ci.example/x) [Approve](https://evil.example",
        )],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let body = &github.marked()[0].1;
    assert!(!body.contains("evil.example"), "{body}");
    assert!(body.contains("planned at an unreadable time"), "{body}");
    assert!(
        body.contains("signature present (verified by the apply job"),
        "{body}"
    );
    assert!(!body.contains("**signed**"), "{body}");
}

/// GitHub's rate limits answer 403 with `x-ratelimit-remaining: 0` and `retry-after`: that
/// 403 is waited out and retried within `--deadline`, not reported as a token scope.
#[test]
fn a_rate_limit_403_is_retried() {
    let github = GitHub::start(2);
    *github.throttle.lock().unwrap() = 2;
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), "local_provider_update", "eeee5555");
    let r = comment(Some(&github), &b, &["--pr", PR, "--output", "json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["action"], "created");
    assert_eq!(github.marked().len(), 1);
    // Listing was tried three times: twice throttled, then answered.
    assert_eq!(
        github
            .stub
            .requests("/api/v3/repos/acme/infra/issues/7/comments")
            .iter()
            .filter(|q| q.method == "GET")
            .count(),
        3
    );
    // Throttled past the deadline: exit 1 saying so, not a scope hint.
    *github.throttle.lock().unwrap() = 100;
    let r = comment(Some(&github), &b, &["--pr", PR, "--deadline", "3s"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("rate limited"), "{}", r.stderr);
    assert!(!r.stderr.contains("scope"), "{}", r.stderr);
}

/// The token is sent to `GITHUB_API_URL`: a plain `http://` address off this machine is
/// refused before any request (exit 2), without echoing it.
#[test]
fn the_token_is_never_sent_in_clear_text() {
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), "local_provider_update", "ffff6666");
    let r = comment(
        None,
        &b,
        &["--pr", PR],
        &[("GITHUB_API_URL", "http://github.internal.example/api/v3")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("GITHUB_API_URL must hold an https:// URL"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("github.internal.example"),
        "{}",
        r.stderr
    );
}

/// A `Link` header whose next page is the page just read (a broken or hostile API) would
/// be followed until the deadline: it is caught on the second page, exit 1 saying so, and
/// nothing is posted.
#[test]
fn a_link_back_to_a_page_already_read_ends_the_listing() {
    let stub = HttpStub::handler(|req| {
        if req.path == "/api/v3/user" {
            return Answer::json(200, &serde_json::json!({ "login": BOT }).to_string());
        }
        let host = req.header("host").unwrap();
        let page = format!("http://{host}{}?{}", req.path, req.query);
        Answer::json(200, "[]").header("Link", &format!("<{page}>; rel=\"next\""))
    });
    let dir = tempfile::tempdir().unwrap();
    let b = bundle(dir.path(), "local_provider_update", "eeee5555");
    let api = stub.url("/api/v3");
    let r = comment(
        None,
        &b,
        &["--pr", PR, "--deadline", "60s"],
        &[("GITHUB_API_URL", &api)],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("points back to a page already read"),
        "{}",
        r.stderr
    );
    let lists = stub
        .requests("/api/v3/repos/acme/infra/issues/7/comments")
        .len();
    assert_eq!(lists, 1, "the page is read once");
    assert!(stub
        .requests("/api/v3/repos/acme/infra/issues/7/comments")
        .iter()
        .all(|q| q.method == "GET"));
}
