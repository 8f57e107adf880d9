output "alert_sink_function_name" {
  description = "Name of the alert_sink function (null when monitoring is false), for aws lambda update-function-code."
  value       = one(aws_lambda_function.alert_sink[*].function_name)
}

output "alert_sink_function_url" {
  description = "alert_sink's Function URL (null when monitoring is false). Callers POST to it with the shared secret."
  value       = one(aws_lambda_function_url.alert_sink[*].function_url)
}

output "smtp_in_registry_arn" {
  description = "ARN of the smtp-in Cloud Map service, for the smtp-in ECS service's service_registries (null when monitoring is false)."
  value       = one(aws_service_discovery_service.smtp_in[*].arn)
}

output "parameter_names" {
  description = "SSM parameter names alert_sink reads (empty when monitoring is false)."
  value       = module.settings.parameter_names
}

output "scrape_targets" {
  description = "Per tier, the DNS name and port Prometheus resolves (dns_sd_configs, type A) to find every task (empty when monitoring is false)."
  value       = module.settings.scrape_targets
}
