locals {
  image = "repo\u003atag"
  other = "repo:tag\n"
  plain = "registry.local:5000/repo:v1.2.3"
  empty = ""
  colon = ":"
}
