terraform {
  required_version = ">= 1.0.0"

  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.common_tags
  }
}

variable "region" {
  type    = string
  default = "eu-west-2"
}

locals {
  environment = "prod"
  name_prefix = "blog-${local.environment}"

  ecr_registry   = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"
  ecr_repository = "${local.ecr_registry}/blog-data"

  # Images are pinned to immutable tags. Bump with `ecr-tags bump IMAGE`, never by hand.
  prefect_base_image     = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-3-python3.12-ecs-20261101-3c9d2e1"
  prefect_deployer_image = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-4f2a9c1" # built by blog_infra CI

  prefect_work_pool = "blog-data-pool"

  common_tags = {
    Project     = "blog"
    Environment = local.environment
    ManagedBy   = "terraform"
  }
}

module "ecs" {
  source = "../../modules/ecs"

  cluster_name      = "${local.name_prefix}"
  portal_image      = "${local.ecr_registry}/backstage:1.32.0"
  prefect_image     = local.prefect_base_image
  deployer_image    = local.prefect_deployer_image
  prefect_work_pool = local.prefect_work_pool
}

module "aurora" {
  source = "../../modules/aurora"

  cluster_identifier = "blog-aurora"
  engine_version     = "16.4"
  min_capacity       = 0.5
  max_capacity       = 4
}
