bucket         = "blog-terraform-state"
key            = "envs/qa/terraform.tfstate"
region         = "eu-west-2"
dynamodb_table = "blog-terraform-locks"
encrypt        = true
