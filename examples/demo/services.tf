# The capacity of the reference environment's ECS services, as the prod root's `ecs` module
# declares it, managed through `toolkit.local/demo/aws` (examples/demo/provider): the two AWS
# resource types whose capacity `park` changes, backed by the local emulator. After
# `park down`, Terraform refreshes them at zero and plans them back up, and tf-wrap's park
# guard refuses that plan. `harness demo-provider DIR` installs the provider into
# DIR/terraform.d/plugins, where `terraform init` finds it without any download.
terraform {
  required_providers {
    aws = {
      source  = "toolkit.local/demo/aws"
      version = "0.1.0"
    }
  }
}

provider "aws" {
  region = "eu-west-2"
}

locals {
  ecs_cluster = "blog-prod"

  # service => desired count and, when it scales, its autoscaling range
  ecs_services = {
    portal         = { desired_count = 2, min = 1, max = 4 }
    prefect-server = { desired_count = 1, min = 1, max = 2 }
    prefect-worker = { desired_count = 1, min = null, max = null }
  }
}

resource "aws_ecs_service" "this" {
  for_each = local.ecs_services

  name          = each.key
  cluster       = local.ecs_cluster
  desired_count = each.value.desired_count
}

resource "aws_appautoscaling_target" "this" {
  for_each = { for name, s in local.ecs_services : name => s if s.min != null }

  service_namespace  = "ecs"
  resource_id        = "service/${local.ecs_cluster}/${each.key}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}
