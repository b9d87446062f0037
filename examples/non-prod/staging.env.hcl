# Staging: the release candidate, used in office hours. Parked and unparked with the other
# non-production environments of this directory by one hourly CircleCI job
# (`park down --scheduled` then `park up --scheduled` over the directory): each file's own
# schedule decides, and all of them share one rate budget for the account and Region.

environment "staging" {
  account_id = "123456789012"
  region     = "eu-west-2"

  terraform {
    root           = "staging"
    backend_config = "backend.hcl"
    lock_timeout   = "2m"
  }

  ecs_cluster "blog-staging" {
    service "portal" {
      desired_count = 1
      autoscaling {
        min = 1
        max = 2
      }
    }

    service "prefect-server" {
      desired_count = 1
    }

    service "prefect-worker" {
      desired_count = 1
    }
  }

  schedule {
    timezone  = "Europe/London"
    unpark_at = "08:00"
    park_at   = "18:00"
    days      = ["mon", "tue", "wed", "thu", "fri"]
    runs_every = "1h"
  }

  notify {
    slack_webhook_env = "SLACK_WEBHOOK_URL"
    on                = ["failed", "refused"]
  }
}
