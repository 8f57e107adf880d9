output "container_definitions" {
  description = "Per tier, the list of containers to append after the mail container in container_definitions: the exporter sidecar when monitoring is true, an empty list when it is false."
  value       = { for tier in local.tiers : tier => var.monitoring ? [local.sidecar[tier]] : [] }

  precondition {
    condition     = !var.monitoring || var.image != ""
    error_message = "monitoring is true but no exporter image is set: set image to the digest-pinned exporter image."
  }
}

output "mail_container_mount_points" {
  description = "Per tier, mount points to add to the mail container's mountPoints (empty when monitoring is false)."
  value       = { for tier in local.tiers : tier => var.monitoring ? local.mail_mounts[tier] : [] }
}

output "task_volumes" {
  description = "Per tier, the task-scoped Docker volumes to declare in the task definition (empty when monitoring is false). Each has name, scope and driver for a docker_volume_configuration block."
  value = {
    for tier in local.tiers : tier => var.monitoring ? [
      for name in local.task_volumes[tier] : { name = name, scope = "task", driver = "local" }
    ] : []
  }
}

output "pid_mode" {
  description = "pid_mode for the task definitions: \"task\" when monitoring and share_pid_namespace are true, so the sidecar's process collector sees the mail daemons in /proc; null otherwise."
  value       = var.monitoring && var.share_pid_namespace ? "task" : null
}

output "revision_marker_suffix" {
  description = "Suffix to append to each tier's task-definition revision marker, so that turning monitoring on or off, or bumping sidecar_revision, registers new task definitions."
  value       = var.monitoring ? "+mailtier${var.sidecar_revision}" : ""
}

output "exporter_port" {
  description = "Port to scrape on every mail task."
  value       = var.exporter_port
}

output "collectors" {
  description = "Per tier, the collectors the sidecar runs (empty when monitoring is false)."
  value       = { for tier in local.tiers : tier => var.monitoring ? local.enabled_collectors[tier] : [] }
}
