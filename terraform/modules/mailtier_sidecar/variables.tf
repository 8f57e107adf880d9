variable "monitoring" {
  type        = bool
  description = "Whether the mail tiers run the exporter sidecar. When false every output is empty (no containers, no volumes, no mount points, pid_mode null, empty marker suffix), so the task definitions stay exactly as they were."
  default     = false
}

variable "image" {
  type        = string
  description = "Exporter image, pinned by digest (REPOSITORY@sha256:<64 hex digits>); a multi-arch image index from docker/build.sh. Required when monitoring is true. An image that cannot be pulled stops the whole task from starting, so it is pinned to something that has been pushed."
  default     = ""

  validation {
    condition     = var.image == "" || can(regex("^[^@[:space:]]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "The image must be empty or pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
  }
}

variable "aws_region" {
  type        = string
  description = "Region of the CloudWatch log groups the sidecar's own log goes to (the awslogs-region option)."
}

variable "log_group_names" {
  type        = map(string)
  description = "CloudWatch log group per tier for the sidecar's own log. Defaults to the mail tiers' existing groups, next to the mail container's stream."
  default = {
    "imap"     = "/ecs/cabal-imap"
    "smtp-in"  = "/ecs/cabal-smtp-in"
    "smtp-out" = "/ecs/cabal-smtp-out"
  }
}

variable "container_name" {
  type        = string
  description = "Name of the sidecar container in every task definition; also its awslogs stream prefix."
  default     = "mailtier-exporter"
}

variable "exporter_port" {
  type        = number
  description = "TCP port the exporter serves /metrics on (the task's ENI address, awsvpc)."
  default     = 9469
}

variable "cpu" {
  type        = number
  description = "CPU units reserved for the sidecar (1024 = one vCPU)."
  default     = 32
}

variable "memory_reservation" {
  type        = number
  description = "Soft memory limit of the sidecar in MiB (what ECS reserves on the instance)."
  default     = 32
}

variable "memory" {
  type        = number
  description = "Hard memory limit of the sidecar in MiB. Exceeding it kills only the sidecar (it is not essential) and the restart policy starts it again."
  default     = 128
}

variable "go_max_procs" {
  type        = number
  description = "GOMAXPROCS of the exporter. The sidecar's CPU share is a fraction of one vCPU, and with one processor the Go runtime hands each inotify wake-up to the reader without waking a second thread: under 1 % of a core at 1 000 lines/s (docs/performance.md)."
  default     = 1

  validation {
    condition     = var.go_max_procs >= 1 && floor(var.go_max_procs) == var.go_max_procs
    error_message = "go_max_procs must be a whole number, at least 1."
  }
}

variable "go_memory_limit" {
  type        = string
  description = "GOMEMLIMIT of the exporter, kept below the hard limit so the Go runtime collects garbage before the kernel kills the container."
  default     = "96MiB"
}

variable "user_id" {
  type        = number
  description = "Numeric uid the sidecar runs as (non-root). 65532 is distroless's nonroot user."
  default     = 65532
}

variable "group_id" {
  type        = number
  description = "Numeric gid the sidecar runs as. It must own the mail log (rsyslog fileGroup) and the sendmail queue directory. 12 is group mail on Amazon Linux 2023, the group of /var/spool/mqueue and of the queue EFS access points."
  default     = 12
}

variable "log_volume_name" {
  type        = string
  description = "Task volume shared by the mail container (read-write) and the sidecar (read-only) for the mail log."
  default     = "mailtier-logs"
}

variable "log_directory" {
  type        = string
  description = "Where the shared log volume is mounted in both containers; rsyslog writes maillog there."
  default     = "/var/log/mail"
}

variable "state_volume_name" {
  type        = string
  description = "Task volume only the sidecar mounts (read-write), for its tail positions file, so a restarted sidecar resumes where it stopped."
  default     = "mailtier-exporter-state"
}

variable "state_directory" {
  type        = string
  description = "Where the state volume is mounted in the sidecar."
  default     = "/var/lib/mailtier_exporter"
}

variable "mqueue_volume_names" {
  type        = map(string)
  description = "Task volume holding each tier's sendmail queue. smtp-in and smtp-out use their existing EFS volumes; imap gets a new task volume (its queue was on the container filesystem)."
  default = {
    "imap"     = "imap-mqueue"
    "smtp-in"  = "smtp-in-queue"
    "smtp-out" = "smtp-queue"
  }
}

variable "mqueue_directory" {
  type        = string
  description = "sendmail queue directory, mounted at the same path in the mail container and the sidecar."
  default     = "/var/spool/mqueue"
}

variable "sendmail_max_message_size" {
  type        = number
  description = "sendmail's MaxMessageSize on every tier (confMAX_MESSAGE_SIZE in Cabalmail's .mc files), so a SIZE= over it is counted as refused for size."
  default     = 52428800
}

variable "dovecot_stats_url" {
  type        = string
  description = "Dovecot's OpenMetrics listener (docker/mail/dovecot/95-stats.conf), reached over the task's shared loopback."
  default     = "http://127.0.0.1:9900/metrics"
}

variable "opendkim_probe_address" {
  type        = string
  description = "OpenDKIM milter socket the smtp-out sidecar probes for signing latency."
  default     = "inet:8891@127.0.0.1"
}

variable "opendkim_probe_from" {
  type        = string
  description = "Sender of the smtp-out sidecar's OpenDKIM signing probe: an address in a domain OpenDKIM's SigningTable signs (the probe's message goes nowhere). Empty: no probe, hence no DKIM signing latency."
  default     = ""

  validation {
    condition     = can(regex("^([^@\\s]+@[^@\\s]+)?$", var.opendkim_probe_from))
    error_message = "opendkim_probe_from must be an address such as dkim-probe@example.com, or empty."
  }
}

variable "opendkim_probe_interval" {
  type        = string
  description = "How often the smtp-out sidecar probes OpenDKIM."
  default     = "60s"
}

variable "fail2ban_collector" {
  type        = bool
  description = "Run the fail2ban collector on imap and smtp-in, tailing fail2ban.log on the shared log volume. Cabalmail removed fail2ban in 0.10.4, so this stays false unless fail2ban is reinstated with logtarget on that volume."
  default     = false
}

variable "anvil_collector" {
  type        = bool
  description = "Run the anvil collector on imap: active IMAP sessions from Dovecot's anvil socket (dovecot_sessions). Needs Dovecot's base_dir shared with the sidecar and the socket opened to the mail group (docs/operations.md), which Cabalmail's images do not do yet, so it stays false until they do."
  default     = false
}

variable "share_pid_namespace" {
  type        = bool
  description = "Give the tasks a task-wide PID namespace (pid_mode = \"task\") so the process collector sees the mail daemons in /proc. AWS allows ECS Exec into only one container of a task that shares its PID namespace; with false the namespace stays per container and the process collector is off."
  default     = true
}

variable "mail_container_names" {
  type        = map(string)
  description = "Name of the mail container of each tier. The sidecar starts after it (dependsOn START), so the mail container is the first in the task and the first in the shared PID namespace."
  default = {
    "imap"     = "imap"
    "smtp-in"  = "smtp-in"
    "smtp-out" = "smtp-out"
  }
}

variable "log_level" {
  type        = string
  description = "Exporter --log.level (debug, info, warn, error)."
  default     = "info"
}

variable "log_format" {
  type        = string
  description = "Exporter --log.format (logfmt or json)."
  default     = "logfmt"
}

variable "extra_args" {
  type        = map(list(string))
  description = "Additional exporter flags per tier, appended after the module's own."
  default     = {}
}

variable "sidecar_revision" {
  type        = string
  description = "Revision of the sidecar definition, part of revision_marker_suffix. The mail task definitions ignore changes to container_definitions, so a new image or new flags only reach the tasks when this changes."
  default     = "1"
}
