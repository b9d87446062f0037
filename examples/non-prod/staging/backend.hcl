bucket         = "blog-terraform-state"
key            = "envs/staging/terraform.tfstate"
region         = "eu-west-2"
dynamodb_table = "blog-terraform-locks"
encrypt        = true
