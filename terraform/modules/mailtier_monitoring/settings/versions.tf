# What the monitoring module's resources are set to, computed from its
# variables and from the few facts only AWS knows (account, partition, the
# ARNs of resources it creates). It declares no resources and needs no
# provider, so terraform can plan it offline: go test ./terraform/ checks
# its outputs against testdata/monitoring/*.json.
terraform {
  required_version = ">= 1.5.0"
}
