locals {
  image = "repo:one"
}

locals {
  image = "repo:two"
}

module "m" {
  locals {
    image = "nested:not-a-local"
  }
}
