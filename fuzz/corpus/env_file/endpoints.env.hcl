environment "prod" {
  account_id = "123456789012"
  region     = "eu-west-2"
  endpoint "portal" {
    url           = "https://user:secret@portal.example.com/health"
    expect_status = 200
    expect_json   = { status = "ok", nested = { a = [1, 2] } }
    timeout       = "5s"
  }
  endpoint "portal" {
    url = "ftp://x"
  }
}
environment "other" {}
