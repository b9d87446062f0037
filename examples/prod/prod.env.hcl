# The reference production environment: one ECS cluster running the Backstage portal, the
# Prefect server and a Prefect ECS worker, an Aurora PostgreSQL cluster, one ECR repository
# holding the Prefect base and deployer images, and CloudFront in front of the portal and the
# Prefect API, and an hourly EventBridge schedule. Every tool of the toolkit reads this file (--env-file or INFRA_ENV_FILE).

environment "prod" {
  account_id = "123456789012"
  region     = "eu-west-2"

  # On-demand prices per hour for park's savings estimates (Fargate Linux/x86 in
  # eu-west-2). Check them against your own bill; without this block park uses its
  # built-in table, which has no Aurora price for this region.
  pricing {
    fargate_vcpu_hour = 0.04656
    fargate_gb_hour   = 0.00511
    currency          = "USD"
  }

  terraform {
    root           = "."
    backend_config = "backend.hcl"
    var_files      = []
    lock_timeout   = "5m"
    binary         = "terraform"
    # Bundles are signed by the plan job (kms:Sign) and verified by the apply job
    # (kms:Verify): recommended for production. An ECC_NIST_P256 SIGN_VERIFY key.
    sign_with      = "kms:alias/prod-tf-bundles"
  }

  ecs_cluster "blog-prod" {
    service "portal" {
      desired_count = 2
      autoscaling {
        min = 1
        max = 4
      }
    }

    service "prefect-server" {
      desired_count = 1
      autoscaling {
        min = 1
        max = 2
      }
    }

    # The worker polls work pool `blog-data-pool`; it has no scalable target.
    service "prefect-worker" {
      desired_count = 1
    }
  }

  aurora_cluster "blog-aurora" {
    park               = "keep"
    auto_pause_seconds = 300
  }

  # The hourly schedule that starts the Prefect `blog-data-sync` flow run. `park down`
  # records whether it was enabled, then disables it, before it scales the services down
  # (nothing fires into a parked environment); `park up` enables it again after the
  # services are back, only if it was enabled when recorded.
  eventbridge_rule "blog-data-sync-hourly" {
    event_bus = "default"
    park      = true
  }

  # When the hourly CircleCI schedules park and unpark (`park down --scheduled` /
  # `park up --scheduled`): London working hours, so 19:00 is 18:00 UTC in summer and
  # 19:00 UTC in winter. Weekends and these bank holidays (England and Wales, 2026-2027)
  # stay parked. Every run converges to what the schedule expects now (a refused 07:00
  # unpark is caught up at 08:00), unless a person parked or unparked by hand since the
  # last transition: that stands until the next one. `runs_every` is the CircleCI trigger
  # (hourly, on the hour): both times must be times a run lands on.
  schedule {
    timezone  = "Europe/London"
    unpark_at = "07:00"
    park_at   = "19:00"
    days      = ["mon", "tue", "wed", "thu", "fri"]
    holidays = [
      "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
      "2026-12-25", "2026-12-28",
      "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
      "2027-12-27", "2027-12-28",
    ]
    runs_every = "1h"
  }

  # What a person must act on goes to the team's Slack channel: a failed or refused park
  # or unpark, a park held by someone, unexpected drift, failed endpoint checks, pins
  # production does not run. SLACK_WEBHOOK_URL (an incoming webhook) is a secret of the
  # CircleCI context; unset (a laptop), nothing is sent.
  notify {
    slack_webhook_env = "SLACK_WEBHOOK_URL"
    on                = ["failed", "refused", "held", "unexpected-drift", "not-live"]
  }

  # The Prefect base image is rebuilt by the refresh-prefect-image workflow under a dated
  # tag (build day, then the commit it was built from): an IMMUTABLE repository takes each
  # tag once, so a fixed tag could be pushed only the first time.
  image "prefect_base_image" {
    file        = "main.tf"
    repository  = "blog-data"
    tag_pattern = "prefect-3-python3\\.12-ecs-(?P<date>[0-9]{8})-(?P<sha>[0-9a-f]{7,40})"
  }

  # `ecr-tags pins --live` compares the pin with the latest ACTIVE revision of the task
  # definition family that runs it (registered by the `ecs` module).
  image "prefect_deployer_image" {
    file            = "main.tf"
    repository      = "blog-data"
    tag_pattern     = "prefect-deployer-3-python3\\.12-(?P<sha>[0-9a-f]{7,40})"
    task_definition = "blog-prod-prefect-deployer"
  }

  # The Prefect deployer: `run-task run prefect-deployer` (CircleCI's deploy-to-prefect job,
  # after the apply) runs the family's latest ACTIVE revision once, on the worker's launch
  # type and network, and follows it to the end: `prefect deploy --all` makes the work pool
  # `blog-data-pool` and every deployment use the new image. Refused, nothing started, when
  # the revision does not run the pin above or prefect-server (the API it talks to) is
  # parked; exit 1 when the deployer's container does not exit 0.
  task "prefect-deployer" {
    task_definition = "blog-prod-prefect-deployer"
    cluster         = "blog-prod"
    network_from    = "prefect-worker"
    container       = "prefect-deployer"
    image           = "prefect_deployer_image"
    needs           = ["prefect-server"]
    timeout         = "20m"
  }

  endpoint "portal" {
    url                     = "https://portal.blog.example.com/.backstage/health/v1/readiness"
    cloudfront_distribution = "E2EXAMPLE"
    expect_status           = 200
    expect_json             = { status = "ok" }
  }

  endpoint "pipelines" {
    url                     = "https://pipelines.blog.example.com/api/health"
    cloudfront_distribution = "E3EXAMPLE"
    expect_status           = 200
    expect_body             = "true"
  }
}
