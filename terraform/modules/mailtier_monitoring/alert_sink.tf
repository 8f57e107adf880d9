# alert_sink: the Go Lambda (lambda/alert_sink) that turns alerts into
# Pushover and ntfy notifications. Built as a bootstrap binary for
# provided.al2023 on arm64 (docker/alert_sink/build.sh).
#
# Its secrets are cabal-infra's SSM parameters (var.alert_sink_parameter_names,
# created by cabal-infra's monitoring module); this module only reads them.
# Several instances may run at once (a burst of webhooks); what each has
# delivered is recorded in one DynamoDB table that all of them see.

data "aws_caller_identity" "current" {
  count = var.monitoring ? 1 : 0
}

data "aws_partition" "current" {
  count = var.monitoring ? 1 : 0
}

# Idempotency records: one item per notification and transport, claimed
# with a conditional write before sending and marked done after, so that a
# retry or a concurrent copy on any instance does not notify twice. Items
# expire through DynamoDB's TTL on expires_at.
resource "aws_dynamodb_table" "alert_sink_dedupe" {
  count = var.monitoring ? 1 : 0

  name         = "${var.alert_sink_function_name}-dedupe"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "alert_sink" {
  count = var.monitoring ? 1 : 0

  name              = "/aws/lambda/${var.alert_sink_function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "alert_sink_assume" {
  count = var.monitoring ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "alert_sink" {
  count = var.monitoring ? 1 : 0

  name               = "${var.alert_sink_function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.alert_sink_assume[0].json
  tags               = var.tags
}

data "aws_kms_alias" "ssm" {
  count = var.monitoring ? 1 : 0

  name = var.ssm_kms_key_alias
}

# Least privilege: read exactly the four parameters, decrypt only through
# SSM and only for those parameters, use only its own idempotency table,
# write only to its own log group.
data "aws_iam_policy_document" "alert_sink" {
  count = var.monitoring ? 1 : 0

  statement {
    sid       = "ReadAlertSinkParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = [for name in local.parameter_list : "arn:${data.aws_partition.current[0].partition}:ssm:${var.aws_region}:${data.aws_caller_identity.current[0].account_id}:parameter${name}"]
  }

  statement {
    sid       = "DecryptAlertSinkParameters"
    actions   = ["kms:Decrypt"]
    resources = [data.aws_kms_alias.ssm[0].target_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.aws_region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = [for name in local.parameter_list : "arn:${data.aws_partition.current[0].partition}:ssm:${var.aws_region}:${data.aws_caller_identity.current[0].account_id}:parameter${name}"]
    }
  }

  statement {
    sid       = "DedupeRecords"
    actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.alert_sink_dedupe[0].arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.alert_sink[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "alert_sink" {
  count = var.monitoring ? 1 : 0

  name   = "${var.alert_sink_function_name}-policy"
  role   = aws_iam_role.alert_sink[0].id
  policy = data.aws_iam_policy_document.alert_sink[0].json
}

resource "aws_lambda_function" "alert_sink" {
  count = var.monitoring ? 1 : 0

  function_name = var.alert_sink_function_name
  description   = "Routes alerts to Pushover and ntfy"
  role          = aws_iam_role.alert_sink[0].arn
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

  environment {
    variables = {
      SHARED_SECRET_PARAM        = local.parameter_names.shared_secret
      PUSHOVER_USER_KEY_PARAM    = local.parameter_names.pushover_user_key
      PUSHOVER_APP_TOKEN_PARAM   = local.parameter_names.pushover_app_token
      NTFY_PUBLISHER_TOKEN_PARAM = local.parameter_names.ntfy_publisher_token
      NTFY_BASE_URL              = var.ntfy_base_url
      NTFY_TOPIC                 = var.ntfy_topic
      ALERT_SINK_DEDUPE_TABLE    = aws_dynamodb_table.alert_sink_dedupe[0].name
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.alert_sink[0].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.alert_sink]

  lifecycle {
    # Code is deployed out of band (aws lambda update-function-code).
    ignore_changes = [s3_key, s3_object_version, source_code_hash]
  }
}

# Public URL: alert_sink authenticates every request itself with the
# shared secret, before it looks at the body.
resource "aws_lambda_function_url" "alert_sink" {
  count = var.monitoring ? 1 : 0

  function_name      = aws_lambda_function.alert_sink[0].function_name
  authorization_type = "NONE"
}

# A function URL with authorization NONE needs both statements in the
# function's resource policy.
resource "aws_lambda_permission" "alert_sink_url" {
  count = var.monitoring ? 1 : 0

  statement_id           = "FunctionURLAllowPublicAccess"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.alert_sink[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_permission" "alert_sink_url_invoke" {
  count = var.monitoring ? 1 : 0

  statement_id             = "FunctionURLInvokeAllowPublicAccess"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.alert_sink[0].function_name
  principal                = "*"
  invoked_via_function_url = true
}
