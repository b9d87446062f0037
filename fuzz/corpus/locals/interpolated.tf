locals {
  registry = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"
  image    = "${local.registry}/blog-data:prefect-3-python3.12-ecs" # pinned
  digest   = "repo@sha256:0123456789abcdef"
  heredoc  = <<-EOT
    repo:tag
  EOT
  templated = "repo:${var.tag}"
}
