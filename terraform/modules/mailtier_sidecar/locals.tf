locals {
  tiers = ["imap", "smtp-in", "smtp-out"]

  # all_collectors and registry_collectors (what each tier runs) are in
  # collectors.tf, generated from the exporter's collector registry.
  # imap:     sendmail (local delivery and relays), its own queue, Dovecot IMAP.
  # smtp-in:  sendmail (inbound relay), the inbound queue, OpenDKIM verifying,
  #           OpenDMARC.
  # smtp-out: sendmail (outbound relay), the outbound queue, Dovecot
  #           submission, OpenDKIM signing (with the latency probe).
  # Three are switched by variables: fail2ban's, anvil (which needs
  # Dovecot's anvil socket shared with the sidecar), and the process
  # collector, which needs the task's shared PID namespace.
  switched_off = concat(var.fail2ban_collector ? [] : ["fail2ban"], var.anvil_collector ? [] : ["anvil"], var.share_pid_namespace ? [] : ["process"])

  enabled_collectors = {
    for tier in local.tiers : tier => [for c in local.registry_collectors[tier] : c if !contains(local.switched_off, c)]
  }

  collector_args = {
    for tier in local.tiers : tier => [
      for c in local.all_collectors : contains(local.enabled_collectors[tier], c) ? "--collector.${c}" : "--no-collector.${c}"
    ]
  }

  common_args = concat(
    [
      "--web.listen-address=:${var.exporter_port}",
      "--log.level=${var.log_level}",
      "--log.format=${var.log_format}",
      "--tail.path=${var.log_directory}/maillog",
    ],
    [
      "--tail.positions=${var.state_directory}/positions",
      "--collector.mqueue.path=${var.mqueue_directory}",
      "--collector.sendmail.max-message-size=${var.sendmail_max_message_size}",
    ],
  )

  # The daemons each tier's process collector looks for in /proc.
  process_names = {
    "imap"     = "dovecot,sendmail/sm-mta"
    "smtp-in"  = "sendmail/sm-mta,opendkim"
    "smtp-out" = "dovecot,sendmail/sm-mta,opendkim"
  }

  tier_args = {
    "imap" = [
      "--collector.dovecot.stats-url=${var.dovecot_stats_url}",
    ]
    "smtp-in" = []
    # The signing probe needs a sender in a domain OpenDKIM signs for;
    # without one there is no probe (and no DKIM signing latency).
    "smtp-out" = concat(
      ["--collector.dovecot.stats-url=${var.dovecot_stats_url}"],
      var.opendkim_probe_from == "" ? [] : [
        "--collector.opendkim.probe.address=${var.opendkim_probe_address}",
        "--collector.opendkim.probe.interval=${var.opendkim_probe_interval}",
        "--collector.opendkim.probe.from=${var.opendkim_probe_from}",
      ],
    )
  }

  # fail2ban's own log, on the tiers that run its collector; the banned
  # gauge is rebuilt from it at start.
  fail2ban_args = {
    for tier in local.tiers : tier => contains(local.enabled_collectors[tier], "fail2ban") ? [
      "--tail.path=${var.log_directory}/fail2ban.log",
      "--collector.fail2ban.log-path=${var.log_directory}/fail2ban.log",
    ] : []
  }

  process_args = {
    for tier in local.tiers : tier => var.share_pid_namespace ? ["--collector.process.names=${local.process_names[tier]}"] : []
  }

  # The sidecar, one per tier. It is never essential: if it exits, the
  # mail container and the task carry on, and the restart policy starts it
  # again in place.
  sidecar = {
    for tier in local.tiers : tier => {
      name              = var.container_name
      image             = var.image
      essential         = false
      cpu               = var.cpu
      memory            = var.memory
      memoryReservation = var.memory_reservation
      user              = "${var.user_id}:${var.group_id}"

      readonlyRootFilesystem = true
      command                = concat(local.common_args, local.fail2ban_args[tier], local.tier_args[tier], local.process_args[tier], local.collector_args[tier], lookup(var.extra_args, tier, []))
      environment = [
        { name = "GOMAXPROCS", value = tostring(var.go_max_procs) },
        { name = "GOMEMLIMIT", value = var.go_memory_limit },
      ]
      portMappings = [
        { name = "metrics", containerPort = var.exporter_port, hostPort = var.exporter_port, protocol = "tcp" },
      ]
      mountPoints = [
        { sourceVolume = var.log_volume_name, containerPath = var.log_directory, readOnly = true },
        { sourceVolume = var.mqueue_volume_names[tier], containerPath = var.mqueue_directory, readOnly = true },
        { sourceVolume = var.state_volume_name, containerPath = var.state_directory, readOnly = false },
      ]
      healthCheck = {
        command     = ["CMD", "/healthcheck", "http://127.0.0.1:${var.exporter_port}/"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
      dependsOn = [
        { containerName = var.mail_container_names[tier], condition = "START" },
      ]
      restartPolicy = {
        enabled              = true
        restartAttemptPeriod = 60
      }
      linuxParameters = {
        capabilities = {
          add  = []
          drop = ["ALL"]
        }
      }
      dockerSecurityOptions = ["no-new-privileges"]
      stopTimeout           = 10
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = var.log_group_names[tier]
          "awslogs-region"        = var.aws_region
          "awslogs-stream-prefix" = var.container_name
          "mode"                  = "non-blocking"
        }
      }
    }
  }

  # What the mail container of each tier mounts in addition to its own
  # mounts: the log volume read-write (rsyslog writes maillog there) and,
  # on imap, the new queue volume.
  mail_mounts = {
    "imap" = [
      { sourceVolume = var.log_volume_name, containerPath = var.log_directory, readOnly = false },
      { sourceVolume = var.mqueue_volume_names["imap"], containerPath = var.mqueue_directory, readOnly = false },
    ]
    "smtp-in" = [
      { sourceVolume = var.log_volume_name, containerPath = var.log_directory, readOnly = false },
    ]
    "smtp-out" = [
      { sourceVolume = var.log_volume_name, containerPath = var.log_directory, readOnly = false },
    ]
  }

  # Task-scoped Docker volumes the caller adds to each task definition:
  # created when the task starts, removed when it stops.
  task_volumes = {
    "imap"     = [var.log_volume_name, var.state_volume_name, var.mqueue_volume_names["imap"]]
    "smtp-in"  = [var.log_volume_name, var.state_volume_name]
    "smtp-out" = [var.log_volume_name, var.state_volume_name]
  }
}
