# The prod root reduced to what Terraform can run on a machine without provider downloads:
# the same s3 backend and the same pinned image locals, exposed as outputs, so a pin bump
# is a real change that `tf-wrap plan` reports and `tf-wrap apply` writes to the state.
# services.tf beside it adds the ECS services' capacity through the demo AWS provider, and
# deployer.tf the deployer's task definition, which runs the pinned deployer image.
# Used by scripts/demo and the end-to-end tests in place of ../prod/main.tf.
terraform {
  required_version = ">= 1.0.0"

  backend "s3" {}
}

locals {
  environment = "prod"

  ecr_registry = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"

  # Images are pinned to immutable tags. Bump with `ecr-tags bump IMAGE`, never by hand.
  prefect_base_image     = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-3-python3.12-ecs-20261101-3c9d2e1"
  prefect_deployer_image = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-deployer-3-python3.12-4f2a9c1" # built by blog_infra CI

  prefect_work_pool = "blog-data-pool"
}

output "prefect_base_image" {
  value = local.prefect_base_image
}

output "prefect_deployer_image" {
  value = local.prefect_deployer_image
}

output "prefect_work_pool" {
  value = local.prefect_work_pool
}
