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
}
