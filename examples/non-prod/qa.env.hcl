# QA: the test team's environment, used in their hours only. Unparked after staging (its
# tests call staging's API) and parked before it, when both are in one run.

environment "qa" {
  account_id = "123456789012"
  region     = "eu-west-2"
  after      = ["staging"]

  terraform {
    root           = "qa"
    backend_config = "backend.hcl"
    lock_timeout   = "2m"
  }

  ecs_cluster "blog-qa" {
    service "portal" {
      desired_count = 1
    }

    service "test-runner" {
      desired_count = 2
      autoscaling {
        min = 1
        max = 4
      }
    }
  }

  schedule {
    timezone  = "Europe/London"
    unpark_at = "09:00"
    park_at   = "17:00"
    days      = ["mon", "tue", "wed", "thu", "fri"]
    runs_every = "1h"
  }

  notify {
    slack_webhook_env = "SLACK_WEBHOOK_URL"
    on                = ["failed", "refused"]
  }
}
