output "instances" {
  description = "count of each group of resources: everything of alert_sink (data sources included), smtp-in's Cloud Map service, and the drain/redeploy bracket around it. The bracket exists with monitoring off too: its replacement when monitoring is turned off is what drains smtp-in before the Cloud Map service is deleted."
  value = {
    alert_sink                  = var.monitoring ? 1 : 0
    smtp_in_discovery_service   = var.monitoring ? 1 : 0
    smtp_in_cloud_map_lifecycle = var.ecs_cluster_name == "" ? 0 : 1
  }
}

output "exporter_ingress_rules" {
  description = "for_each of the exporter's ingress rules: per tier, the rule that lets Prometheus scrape the exporter port (empty when monitoring is false)."
  value = {
    for tier, group in var.tier_security_group_ids : tier => {
      type                     = "ingress"
      security_group_id        = group
      source_security_group_id = var.prometheus_security_group_id
      protocol                 = "tcp"
      from_port                = var.exporter_port
      to_port                  = var.exporter_port
      description              = "mailtier exporter scrape from Prometheus (${tier})"
    } if var.monitoring
  }
}

output "smtp_in_discovery_service" {
  description = "smtp-in's Cloud Map service: one A record per task (null when monitoring is false)."
  value = var.monitoring ? {
    name           = var.tier_discovery_names["smtp-in"]
    namespace_id   = var.service_discovery_namespace_id
    routing_policy = "MULTIVALUE"
    dns_record = {
      ttl  = 10
      type = "A"
    }
  } : null
}

output "smtp_in_cloud_map_lifecycle" {
  description = "The bracket's triggers_replace and input. triggers_replace follows the Cloud Map service's ID (\"\" while monitoring is off), so turning monitoring on or off replaces the bracket; quiesced is in it so that quiescing and resuming restore the right count."
  value = {
    triggers_replace = [
      var.monitoring ? var.smtp_in_discovery_service_id : "",
      var.quiesced,
    ]
    input = {
      cluster_name     = var.ecs_cluster_name
      ecs_service_name = var.smtp_in_service_name
      region           = var.aws_region
      desired_count    = var.quiesced ? 0 : var.smtp_in_desired_count
      registered       = var.monitoring
    }
  }
}

output "alert_sink" {
  description = "The settings of alert_sink's function, role and its assume-role policy, log group, idempotency table and Function URL (null when monitoring is false). Its policy and the URL's permissions are outputs of their own."
  value = var.monitoring ? {
    # Idempotency records: one item per notification and transport, keyed
    # by the string pk; items expire through DynamoDB's TTL on expires_at.
    dedupe_table = {
      name         = local.dedupe_table_name
      billing_mode = "PAY_PER_REQUEST"
      hash_key     = "pk"
      attribute = {
        name = "pk"
        type = "S"
      }
      ttl = {
        attribute_name = "expires_at"
        enabled        = true
      }
    }

    log_group = {
      name              = "/aws/lambda/${var.alert_sink_function_name}"
      retention_in_days = var.log_retention_days
    }

    # The Lambda service may assume the role, and nothing else.
    assume_role_policy = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "lambda.amazonaws.com" }
      }]
    })
    role_name         = "${var.alert_sink_function_name}-role"
    role_policy_name  = "${var.alert_sink_function_name}-policy"
    ssm_kms_key_alias = var.ssm_kms_key_alias

    function = {
      function_name = var.alert_sink_function_name
      description   = "Routes alerts to Pushover and ntfy"
      runtime       = "provided.al2023"
      handler       = "bootstrap"
      architectures = ["arm64"]
      s3_bucket     = var.lambda_bucket
      s3_key        = var.alert_sink_s3_key
      memory_size   = 128
      timeout       = 10
      # Sized for a burst: every monitor firing at once gets its own
      # instance instead of a 429 (callers such as Kuma do not retry).
      # Reserved, so that other functions cannot use it up.
      reserved_concurrent_executions = var.alert_sink_reserved_concurrency
      environment = {
        SHARED_SECRET_PARAM        = local.parameter_names.shared_secret
        PUSHOVER_USER_KEY_PARAM    = local.parameter_names.pushover_user_key
        PUSHOVER_APP_TOKEN_PARAM   = local.parameter_names.pushover_app_token
        NTFY_PUBLISHER_TOKEN_PARAM = local.parameter_names.ntfy_publisher_token
        NTFY_BASE_URL              = var.ntfy_base_url
        NTFY_TOPIC                 = var.ntfy_topic
        ALERT_SINK_DEDUPE_TABLE    = local.dedupe_table_name
      }
      log_format = "Text"
    }

    # Public URL: alert_sink authenticates every request itself with the
    # shared secret, before it looks at the body.
    function_url_authorization_type = "NONE"
  } : null
}

# Apart from alert_sink: the policy reads the ARNs of resources that are
# set from alert_sink, which would be a cycle in one output.
output "alert_sink_policy" {
  description = "alert_sink's IAM policy document, as JSON (null when monitoring is false)."
  value       = local.alert_sink_policy
}

# A function URL with authorization NONE needs both statements in the
# function's resource policy. By statement id.
output "alert_sink_url_permissions" {
  description = "for_each of the Function URL's permissions, by statement id (empty when monitoring is false)."
  value = { for id, permission in {
    FunctionURLAllowPublicAccess = {
      action                   = "lambda:InvokeFunctionUrl"
      principal                = "*"
      function_url_auth_type   = "NONE"
      invoked_via_function_url = null
    }
    FunctionURLInvokeAllowPublicAccess = {
      action                   = "lambda:InvokeFunction"
      principal                = "*"
      function_url_auth_type   = null
      invoked_via_function_url = true
    }
  } : id => permission if var.monitoring }
}

output "parameter_names" {
  description = "SSM parameter names alert_sink reads (empty when monitoring is false)."
  value       = var.monitoring ? local.parameter_names : {}
}

output "scrape_targets" {
  description = "Per tier, the DNS name and port Prometheus resolves (dns_sd_configs, type A) to find every task (empty when monitoring is false)."
  value = var.monitoring ? {
    for tier, name in var.tier_discovery_names : tier => {
      name = "${name}.${var.service_discovery_namespace_name}"
      port = var.exporter_port
    }
  } : {}
}
