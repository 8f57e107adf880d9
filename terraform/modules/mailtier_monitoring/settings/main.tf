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
  # write only to its own log group. Statements are Allow (the default).
  alert_sink_policy_statements = var.monitoring ? [
    {
      sid        = "ReadAlertSinkParameters"
      actions    = ["ssm:GetParameter", "ssm:GetParameters"]
      resources  = local.parameter_arns
      conditions = []
    },
    {
      sid       = "DecryptAlertSinkParameters"
      actions   = ["kms:Decrypt"]
      resources = [var.ssm_kms_key_arn]
      conditions = [
        {
          test     = "StringEquals"
          variable = "kms:ViaService"
          values   = ["ssm.${var.aws_region}.amazonaws.com"]
        },
        {
          test     = "StringEquals"
          variable = "kms:EncryptionContext:PARAMETER_ARN"
          values   = local.parameter_arns
        },
      ]
    },
    {
      sid        = "DedupeRecords"
      actions    = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
      resources  = [var.dedupe_table_arn]
      conditions = []
    },
    {
      sid        = "WriteOwnLogs"
      actions    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources  = ["${var.log_group_arn}:*"]
      conditions = []
    },
  ] : []
}
