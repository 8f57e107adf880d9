# alert_sink: the Go Lambda (lambda/alert_sink) that turns alerts into
# Pushover and ntfy notifications. Built as a bootstrap binary for
# provided.al2023 on arm64 (docker/alert_sink/build.sh).
#
# Its secrets are cabal-infra's SSM parameters (var.alert_sink_parameter_names,
# created by cabal-infra's monitoring module); this module only reads them.
# Several instances may run at once (a burst of webhooks); what each has
# delivered is recorded in one DynamoDB table that all of them see.

data "aws_caller_identity" "current" {
  count = module.settings.instances.alert_sink
}

data "aws_partition" "current" {
  count = module.settings.instances.alert_sink
}

# Idempotency records: one item per notification and transport, claimed
# with a conditional write before sending and marked done after, so that a
# retry or a concurrent copy on any instance does not notify twice. Items
# expire through DynamoDB's TTL on expires_at.
resource "aws_dynamodb_table" "alert_sink_dedupe" {
  count = module.settings.instances.alert_sink

  name         = module.settings.alert_sink.dedupe_table.name
  billing_mode = module.settings.alert_sink.dedupe_table.billing_mode
  hash_key     = module.settings.alert_sink.dedupe_table.hash_key

  attribute {
    name = module.settings.alert_sink.dedupe_table.attribute.name
    type = module.settings.alert_sink.dedupe_table.attribute.type
  }

  ttl {
    attribute_name = module.settings.alert_sink.dedupe_table.ttl.attribute_name
    enabled        = module.settings.alert_sink.dedupe_table.ttl.enabled
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "alert_sink" {
  count = module.settings.instances.alert_sink

  name              = module.settings.alert_sink.log_group.name
  retention_in_days = module.settings.alert_sink.log_group.retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "alert_sink" {
  count = module.settings.instances.alert_sink

  name               = module.settings.alert_sink.role_name
  assume_role_policy = module.settings.alert_sink.assume_role_policy
  tags               = var.tags
}

data "aws_kms_alias" "ssm" {
  count = module.settings.instances.alert_sink

  name = module.settings.alert_sink.ssm_kms_key_alias
}

# Least privilege: the statements are in settings/main.tf.
resource "aws_iam_role_policy" "alert_sink" {
  count = module.settings.instances.alert_sink

  name   = module.settings.alert_sink.role_policy_name
  role   = aws_iam_role.alert_sink[0].id
  policy = module.settings.alert_sink_policy
}

resource "aws_lambda_function" "alert_sink" {
  count = module.settings.instances.alert_sink

  function_name                  = module.settings.alert_sink.function.function_name
  description                    = module.settings.alert_sink.function.description
  role                           = aws_iam_role.alert_sink[0].arn
  runtime                        = module.settings.alert_sink.function.runtime
  handler                        = module.settings.alert_sink.function.handler
  architectures                  = module.settings.alert_sink.function.architectures
  s3_bucket                      = module.settings.alert_sink.function.s3_bucket
  s3_key                         = module.settings.alert_sink.function.s3_key
  memory_size                    = module.settings.alert_sink.function.memory_size
  timeout                        = module.settings.alert_sink.function.timeout
  reserved_concurrent_executions = module.settings.alert_sink.function.reserved_concurrent_executions

  environment {
    variables = module.settings.alert_sink.function.environment
  }

  logging_config {
    log_format = module.settings.alert_sink.function.log_format
    log_group  = aws_cloudwatch_log_group.alert_sink[0].name
  }

  tags = var.tags

  # The table the environment names is created first, as the policy that
  # lets the function use it.
  depends_on = [aws_iam_role_policy.alert_sink, aws_dynamodb_table.alert_sink_dedupe]

  lifecycle {
    # Code is deployed out of band (aws lambda update-function-code).
    ignore_changes = [s3_key, s3_object_version, source_code_hash]
  }
}

# Public URL: alert_sink authenticates every request itself with the
# shared secret, before it looks at the body.
resource "aws_lambda_function_url" "alert_sink" {
  count = module.settings.instances.alert_sink

  function_name      = aws_lambda_function.alert_sink[0].function_name
  authorization_type = module.settings.alert_sink.function_url_authorization_type
}

# A function URL with authorization NONE needs both statements in the
# function's resource policy.
resource "aws_lambda_permission" "alert_sink_url" {
  for_each = module.settings.alert_sink_url_permissions

  function_name            = aws_lambda_function.alert_sink[0].function_name
  statement_id             = each.key
  action                   = each.value.action
  principal                = each.value.principal
  function_url_auth_type   = each.value.function_url_auth_type
  invoked_via_function_url = each.value.invoked_via_function_url
}

# The two permissions were two resources of a count each.
moved {
  from = aws_lambda_permission.alert_sink_url[0]
  to   = aws_lambda_permission.alert_sink_url["FunctionURLAllowPublicAccess"]
}

moved {
  from = aws_lambda_permission.alert_sink_url_invoke[0]
  to   = aws_lambda_permission.alert_sink_url["FunctionURLInvokeAllowPublicAccess"]
}
