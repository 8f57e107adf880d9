# The monitoring module's variables of the same names, described and
# validated there; settings.tf passes each one through. No defaults, so
# none can be forgotten.

variable "monitoring" {
  type = bool
}

variable "aws_region" {
  type = string
}

variable "tier_security_group_ids" {
  type = map(string)
}

variable "prometheus_security_group_id" {
  type = string
}

variable "exporter_port" {
  type = number
}

variable "service_discovery_namespace_id" {
  type = string
}

variable "service_discovery_namespace_name" {
  type = string
}

variable "tier_discovery_names" {
  type = map(string)
}

variable "ecs_cluster_name" {
  type = string
}

variable "smtp_in_service_name" {
  type = string
}

variable "smtp_in_desired_count" {
  type = number
}

variable "quiesced" {
  type = bool
}

variable "alert_sink_function_name" {
  type = string
}

variable "lambda_bucket" {
  type = string
}

variable "alert_sink_s3_key" {
  type = string
}

# The monitoring module's object of four names, which its declaration
# types and validates; here the same four names, as a map.
variable "alert_sink_parameter_names" {
  type = map(string)
}

variable "alert_sink_reserved_concurrency" {
  type = number
}

variable "ssm_kms_key_alias" {
  type = string
}

variable "ntfy_base_url" {
  type = string
}

variable "ntfy_topic" {
  type = string
}

variable "log_retention_days" {
  type = number
}

# What AWS knows, from the monitoring module's data sources and resources;
# null while monitoring is false (nothing reads them then).

variable "partition" {
  type        = string
  description = "data.aws_partition.current's partition."
}

variable "account_id" {
  type        = string
  description = "data.aws_caller_identity.current's account_id."
}

variable "ssm_kms_key_arn" {
  type        = string
  description = "ARN of the key behind var.ssm_kms_key_alias (data.aws_kms_alias.ssm's target_key_arn)."
}

variable "dedupe_table_arn" {
  type        = string
  description = "ARN of the idempotency table (aws_dynamodb_table.alert_sink_dedupe)."
}

variable "log_group_arn" {
  type        = string
  description = "ARN of alert_sink's log group (aws_cloudwatch_log_group.alert_sink)."
}

variable "smtp_in_discovery_service_id" {
  type        = string
  description = "ID of smtp-in's Cloud Map service (aws_service_discovery_service.smtp_in)."
}
