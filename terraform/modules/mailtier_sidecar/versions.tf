# This module declares no resources and needs no provider: it only computes
# the exporter sidecar's container definitions and the task-level settings
# that go with them, for the caller to put into its task definitions.
terraform {
  required_version = ">= 1.5.0"
}
