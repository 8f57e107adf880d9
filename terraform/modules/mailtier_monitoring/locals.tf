locals {
  parameter_names = {
    shared_secret        = "${var.ssm_parameter_prefix}alert_sink_secret"
    pushover_user_key    = "${var.ssm_parameter_prefix}pushover_user_key"
    pushover_app_token   = "${var.ssm_parameter_prefix}pushover_app_token"
    ntfy_publisher_token = "${var.ssm_parameter_prefix}ntfy_publisher_token"
  }

  # The transport credentials are created with a placeholder value that the
  # operator replaces with aws ssm put-parameter --overwrite (first boot and
  # every rotation); Terraform never reads them back.
  transport_parameters = {
    pushover_user_key    = local.parameter_names.pushover_user_key
    pushover_app_token   = local.parameter_names.pushover_app_token
    ntfy_publisher_token = local.parameter_names.ntfy_publisher_token
  }

  placeholder_value = "placeholder-set-via-aws-ssm-put-parameter"
}
