locals {
  # The SSM parameters alert_sink reads: cabal-infra's by default.
  parameter_names = {
    shared_secret        = var.alert_sink_parameter_names.shared_secret
    pushover_user_key    = var.alert_sink_parameter_names.pushover_user_key
    pushover_app_token   = var.alert_sink_parameter_names.pushover_app_token
    ntfy_publisher_token = var.alert_sink_parameter_names.ntfy_publisher_token
  }
  parameter_list = [
    var.alert_sink_parameter_names.shared_secret,
    var.alert_sink_parameter_names.pushover_user_key,
    var.alert_sink_parameter_names.pushover_app_token,
    var.alert_sink_parameter_names.ntfy_publisher_token,
  ]

  dedupe_table_name = "${var.alert_sink_function_name}-dedupe"
}

# Empty while monitoring is false: the facts from AWS are null then.
locals {
  parameter_arns = var.monitoring ? [for name in local.parameter_list : "arn:${var.partition}:ssm:${var.aws_region}:${var.account_id}:parameter${name}"] : []

  # Least privilege: read exactly the four parameters, decrypt only through
  # SSM and only for those parameters, use only its own idempotency table,
  # write only to its own log group. The document is written here, in IAM's
  # own JSON, so that what terraform plans offline is what AWS gets.
  alert_sink_policy = var.monitoring ? jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadAlertSinkParameters"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters"]
        Resource = local.parameter_arns
      },
      {
        Sid      = "DecryptAlertSinkParameters"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.ssm_kms_key_arn]
        Condition = {
          StringEquals = {
            "kms:ViaService"                      = ["ssm.${var.aws_region}.amazonaws.com"]
            "kms:EncryptionContext:PARAMETER_ARN" = local.parameter_arns
          }
        }
      },
      {
        Sid      = "DedupeRecords"
        Effect   = "Allow"
        Action   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
        Resource = [var.dedupe_table_arn]
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${var.log_group_arn}:*"]
      },
    ]
  }) : null
}
