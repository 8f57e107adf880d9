# The shared secret callers (Alertmanager, Kuma, Healthchecks) present to
# alert_sink. Generated once; rotations are done with put-parameter and
# never reverted, because Terraform ignores the value after creation.
resource "random_password" "shared_secret" {
  count = var.monitoring ? 1 : 0

  length  = 48
  special = false
}

resource "aws_ssm_parameter" "shared_secret" {
  count = var.monitoring ? 1 : 0

  name        = local.parameter_names.shared_secret
  description = "Shared secret alert_sink expects in X-Alert-Secret or Authorization: Bearer"
  type        = "SecureString"
  key_id      = var.ssm_kms_key_alias
  value       = random_password.shared_secret[0].result
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "transport" {
  for_each = var.monitoring ? local.transport_parameters : {}

  name        = each.value
  description = "alert_sink transport credential (${each.key}); set with aws ssm put-parameter --overwrite"
  type        = "SecureString"
  key_id      = var.ssm_kms_key_alias
  value       = local.placeholder_value
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}
