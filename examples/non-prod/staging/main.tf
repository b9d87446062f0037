# The staging environment's Terraform root (its resources are defined beside prod's, in the
# same account and Region); its state has its own key in the shared backend.
terraform {
  required_version = ">= 1.0.0"

  backend "s3" {}
}
