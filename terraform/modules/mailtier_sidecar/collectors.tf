# Generated from collectors/registry by `go test ./collectors/registry -update`:
# edit the collectors' Registrations, not this file.
locals {
  # Every collector the exporter has, in the order of its --help. Each tier
  # passes --collector.<name> or --no-collector.<name> for all of them, so
  # what a tier runs does not depend on the exporter's defaults.
  all_collectors = ["sendmail", "mqueue", "dovecot", "anvil", "fail2ban", "opendkim", "opendmarc", "process"]

  # The collectors each tier's sidecar runs when its variables turn none
  # off (locals.tf: fail2ban_collector, anvil_collector, share_pid_namespace).
  registry_collectors = {
    "imap"     = ["sendmail", "mqueue", "dovecot", "anvil", "fail2ban", "process"]
    "smtp-in"  = ["sendmail", "mqueue", "fail2ban", "opendkim", "opendmarc", "process"]
    "smtp-out" = ["sendmail", "mqueue", "dovecot", "opendkim", "process"]
  }
}
