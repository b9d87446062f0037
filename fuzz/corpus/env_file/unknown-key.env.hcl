environment "prod" {
  account_id = "123456789012"
  region     = "eu-west-2"
  regoin     = "eu-west-1"
  ecs_cluster "c" {
    service "s" {
      desired_count = "two"
    }
  }
}
