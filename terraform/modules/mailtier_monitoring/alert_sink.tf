# alert_sink: the Go Lambda (lambda/alert_sink) that turns alerts into
# Pushover and ntfy notifications. Built as a bootstrap binary for
# provided.al2023 on arm64 (docker/alert_sink/build.sh).

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
# SSM and only for those parameters, write only to its own log group.
data "aws_iam_policy_document" "alert_sink" {
  count = var.monitoring ? 1 : 0

  statement {
    sid       = "ReadAlertSinkParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = concat([aws_ssm_parameter.shared_secret[0].arn], [for p in aws_ssm_parameter.transport : p.arn])
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
      values   = concat([aws_ssm_parameter.shared_secret[0].arn], [for p in aws_ssm_parameter.transport : p.arn])
    }
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

  # One execution environment at most: alerts are rare, and a flood of
  # requests (or someone hammering the public URL) cannot fan out into
  # a flood of pages or run up cost.
  reserved_concurrent_executions = 1

  environment {
    variables = {
      SHARED_SECRET_PARAM        = aws_ssm_parameter.shared_secret[0].name
      PUSHOVER_USER_KEY_PARAM    = aws_ssm_parameter.transport["pushover_user_key"].name
      PUSHOVER_APP_TOKEN_PARAM   = aws_ssm_parameter.transport["pushover_app_token"].name
      NTFY_PUBLISHER_TOKEN_PARAM = aws_ssm_parameter.transport["ntfy_publisher_token"].name
      NTFY_BASE_URL              = var.ntfy_base_url
      NTFY_TOPIC                 = var.ntfy_topic
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
