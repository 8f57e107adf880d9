# Generated from collectors/registry by `go test ./collectors/registry -update`:
# edit the collectors' Registrations, not this file.
locals {
  # Every collector the exporter has, in the order of its --help. Each tier
  # passes --collector.<name> or --no-collector.<name> for all of them, so
  # what a tier runs does not depend on the exporter's defaults.
  all_collectors = ["sendmail", "mqueue", "dovecot", "fail2ban", "opendkim", "process"]

  # The collectors each tier's sidecar runs when its variables turn none
  # off (locals.tf: fail2ban_collector, share_pid_namespace).
  registry_collectors = {
    "imap"     = ["sendmail", "mqueue", "dovecot", "fail2ban", "process"]
    "smtp-in"  = ["sendmail", "mqueue", "fail2ban", "opendkim", "process"]
    "smtp-out" = ["sendmail", "mqueue", "dovecot", "opendkim", "process"]
  }
}
