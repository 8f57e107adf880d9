variable "monitoring" {
  type        = bool
  description = "Whether to create anything at all. Every resource and data source in this module has count or for_each keyed on it, so false creates nothing."
  default     = false
}

variable "aws_region" {
  type        = string
  description = "Region of the deployment (used in the kms:ViaService condition)."
}

variable "tier_security_group_ids" {
  type        = map(string)
  description = "Security group of each mail tier's service, keyed imap, smtp-in, smtp-out. Each gets an ingress rule for the exporter port from Prometheus."
  default     = {}
}

variable "prometheus_security_group_id" {
  type        = string
  description = "Security group of the Prometheus service (cabal-prometheus), the only source allowed to reach the exporter port."
  default     = ""
}

variable "exporter_port" {
  type        = number
  description = "Exporter port, as in the sidecar module."
  default     = 9469
}

variable "service_discovery_namespace_id" {
  type        = string
  description = "ID of the private DNS namespace the mail tiers register in (cabal.internal). smtp-in gets a Cloud Map service there."
  default     = ""
}

variable "ecs_cluster_name" {
  type        = string
  description = "Name of the ECS cluster of the mail tiers (module.ecs.cluster_name, \"cabal-mail\"), for the drain and redeploy around smtp-in's Cloud Map service. Empty: no bracket (only for a stack without the smtp-in service)."
  default     = ""
}

variable "smtp_in_service_name" {
  type        = string
  description = "Name of the smtp-in ECS service (module.ecs.smtp_in_service_name). Passing the module output also orders the bracket's redeploy after the service's update to the new registry."
  default     = ""
}

variable "smtp_in_desired_count" {
  type        = number
  description = "Desired count the bracket restores smtp-in to after a drain, as cabal-infra's brackets restore 1; its autoscaling takes it from there."
  default     = 1
}

variable "quiesced" {
  type        = bool
  description = "cabal-infra's quiesced flag (var.quiesced): while true the bracket restores smtp-in to 0 tasks."
  default     = false
}

variable "service_discovery_namespace_name" {
  type        = string
  description = "Name of that namespace, for the scrape target names."
  default     = "cabal.internal"
}

variable "tier_discovery_names" {
  type        = map(string)
  description = "Cloud Map service name of each tier in the namespace. imap and smtp-out already have theirs upstream; smtp-in's is created by this module."
  default = {
    "imap"     = "imap"
    "smtp-in"  = "smtp-in"
    "smtp-out" = "smtp-out"
  }
}

variable "alert_sink_function_name" {
  type        = string
  description = "Name of the alert_sink Lambda function."
  default     = "cabal-mailtier-alert-sink"
}

variable "lambda_bucket" {
  type        = string
  description = "S3 bucket holding the alert_sink deployment package."
  default     = ""
}

variable "alert_sink_s3_key" {
  type        = string
  description = "S3 key of mailtier_alert_sink.zip (docker/alert_sink/build.sh). Not cabal-infra's lambda/alert_sink.zip, which holds its Python function: the same key would make each deploy overwrite the other. Later code updates go through aws lambda update-function-code, so Terraform ignores changes to it."
  default     = "lambda/mailtier_alert_sink.zip"

  validation {
    # cabal-infra's key for its own alert_sink (terraform/infra/modules/monitoring/alert_sink.tf).
    condition     = var.alert_sink_s3_key != "lambda/alert_sink.zip"
    error_message = "lambda/alert_sink.zip is cabal-infra's Python alert_sink; use another key."
  }
}

variable "alert_sink_parameter_names" {
  type = object({
    shared_secret        = string
    pushover_user_key    = string
    pushover_app_token   = string
    ntfy_publisher_token = string
  })
  description = "SSM SecureString parameters alert_sink reads. The defaults are the ones cabal-infra's monitoring module creates (terraform/infra/modules/monitoring/ssm.tf), so the function uses the secret Kuma, Healthchecks and Alertmanager already send and the transport credentials already set; this module does not create them."
  default = {
    shared_secret        = "/cabal/alert_sink_secret"
    pushover_user_key    = "/cabal/pushover_user_key"
    pushover_app_token   = "/cabal/pushover_app_token"
    ntfy_publisher_token = "/cabal/ntfy_publisher_token"
  }

  validation {
    condition = (can(regex("^/", var.alert_sink_parameter_names.shared_secret)) && can(regex("^/", var.alert_sink_parameter_names.pushover_user_key))
    && can(regex("^/", var.alert_sink_parameter_names.pushover_app_token)) && can(regex("^/", var.alert_sink_parameter_names.ntfy_publisher_token)))
    error_message = "Parameter names must be full paths starting with /."
  }
}

variable "alert_sink_reserved_concurrency" {
  type        = number
  description = "Concurrent executions reserved for alert_sink: enough for every caller that can fire at once (cabal-infra's 8 Kuma monitors and 6 Healthchecks checks, plus Alertmanager's groups), so that a burst is never answered 429. Duplicates across instances are prevented by the DynamoDB idempotency table. -1 leaves it on the account's unreserved pool."
  default     = 25

  validation {
    condition     = var.alert_sink_reserved_concurrency == -1 || var.alert_sink_reserved_concurrency >= 20
    error_message = "Reserve at least 20 (a burst of every monitor at once), or -1 for the unreserved pool."
  }
}

variable "ssm_kms_key_alias" {
  type        = string
  description = "KMS key alias the parameters are encrypted with; alert_sink may decrypt with it through SSM only."
  default     = "alias/aws/ssm"
}

variable "ntfy_base_url" {
  type        = string
  description = "Base URL of the ntfy server, e.g. https://ntfy.example.com."
  default     = ""
}

variable "ntfy_topic" {
  type        = string
  description = "ntfy topic alerts are published to."
  default     = "alerts"
}

variable "log_retention_days" {
  type        = number
  description = "Retention of alert_sink's log group."
  default     = 90
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource that takes them."
  default     = {}
}
