# Every value the resources of this module are set to, and every count and
# for_each, comes from this provider-free child module (./settings), so
# that terraform can plan and check them offline (go test ./terraform/).
# The resources below only wire its outputs to AWS.
module "settings" {
  source = "./settings"

  monitoring                       = var.monitoring
  aws_region                       = var.aws_region
  tier_security_group_ids          = var.tier_security_group_ids
  prometheus_security_group_id     = var.prometheus_security_group_id
  exporter_port                    = var.exporter_port
  service_discovery_namespace_id   = var.service_discovery_namespace_id
  service_discovery_namespace_name = var.service_discovery_namespace_name
  tier_discovery_names             = var.tier_discovery_names
  ecs_cluster_name                 = var.ecs_cluster_name
  smtp_in_service_name             = var.smtp_in_service_name
  smtp_in_desired_count            = var.smtp_in_desired_count
  quiesced                         = var.quiesced
  alert_sink_function_name         = var.alert_sink_function_name
  lambda_bucket                    = var.lambda_bucket
  alert_sink_s3_key                = var.alert_sink_s3_key
  alert_sink_parameter_names       = var.alert_sink_parameter_names
  alert_sink_reserved_concurrency  = var.alert_sink_reserved_concurrency
  ssm_kms_key_alias                = var.ssm_kms_key_alias
  ntfy_base_url                    = var.ntfy_base_url
  ntfy_topic                       = var.ntfy_topic
  log_retention_days               = var.log_retention_days

  # What AWS knows (null while monitoring is false).
  partition                    = one(data.aws_partition.current[*].partition)
  account_id                   = one(data.aws_caller_identity.current[*].account_id)
  ssm_kms_key_arn              = one(data.aws_kms_alias.ssm[*].target_key_arn)
  dedupe_table_arn             = one(aws_dynamodb_table.alert_sink_dedupe[*].arn)
  log_group_arn                = one(aws_cloudwatch_log_group.alert_sink[*].arn)
  smtp_in_discovery_service_id = one(aws_service_discovery_service.smtp_in[*].id)
}
