# Digest pins: tag and digest, in the forms the prod roots use, plus ones to refuse.
locals {
  ecr = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"

  deployer_image = "${local.ecr}/blog-data:prefect-deployer-3-python3.12-4f2a9c1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" # CI
  worker_image   = "registry.local:5000/worker:v2@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
  digest_only    = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/blog-data@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  short_digest   = "repo:v1@sha256:abc"
  upper_digest   = "repo:v1@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
  two_ats        = "repo:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef@x"
}
