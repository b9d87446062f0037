environment "prod" {
  account_id = "123456789012"
  region = "eu-west-2"
  terraform {
    lock_timeout = "5 lightyears"
    max_plan_age = "-1h"
    protected_types = ["aws_rds_cluster", 3]
  }
  aurora_cluster "a" {
    park = "sometimes"
  }
  image "x" {
    file = "main.tf"
    repository = "r"
    tag_pattern = "(unclosed"
  }
