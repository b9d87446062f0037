# Pins in the forms the prod roots use, with comments and odd spacing.
locals {
  ecr = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"

  base_image     = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data:prefect-3-python3.12-ecs"
  deployer_image = "${local.ecr}/blog-data:prefect-deployer-3-python3.12-4f2a9c1" # CI
  portal_image   =     "${local.ecr}/backstage:1.32.0"
  /* block comment */ worker_image = "registry.local:5000/worker:v2.0.0-rc.1"
  sidecar = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
  unicode_image = "ré/pö:tåg"
  long_tag = "repo:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
}

locals { inline_image = "repo:inline" }
