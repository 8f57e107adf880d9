// Package upstream holds the facts about cabalmail/cabal-infra that
// mailtier's adoption depends on, so that tests check mailtier against
// them without reading or fetching cabal-infra itself.
//
// Every value was read from cabal-infra at Commit; the comment on each
// names the file it comes from. When cabal-infra changes one of these,
// change it here, and the tests say what in mailtier no longer fits.
package upstream

import "strings"

// Commit is the cabal-infra commit these facts were read from.
const Commit = "56bdbf2e9eea076220e58e7dbb845bac12d62a5b"

// Tiers are the mail tiers, as keyed in local.tiers
// (terraform/infra/modules/ecs/locals.tf).
var Tiers = []string{"imap", "smtp-in", "smtp-out"}

// Capabilities is what each mail tier's container may use: ECS drops ALL
// and adds exactly these (linuxParameters.capabilities of
// aws_ecs_task_definition.imap, .smtp_in and .smtp_out in
// terraform/infra/modules/ecs/task-definitions.tf). Names are Linux's,
// without the CAP_ prefix, as ECS writes them.
var Capabilities = map[string][]string{
	"imap":     {"CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_CHROOT"},
	"smtp-in":  {"KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"},
	"smtp-out": {"CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_CHROOT"},
}

// NoNewPrivileges says every mail task definition sets dockerSecurityOptions
// = ["no-new-privileges"] (terraform/infra/modules/ecs/task-definitions.tf).
const NoNewPrivileges = true

// TierDaemons are the long-running programs of each tier's supervisord
// (docker/imap/supervisord.conf, docker/smtp-in/supervisord.conf,
// docker/smtp-out/supervisord.conf) that mailtier's configuration
// touches: rsyslog writes the mail log the exporter reads.
var TierDaemons = map[string][]string{
	"imap":     {"rsyslog", "sendmail", "dovecot"},
	"smtp-in":  {"rsyslog", "sendmail", "opendkim", "opendmarc"},
	"smtp-out": {"rsyslog", "sendmail", "dovecot", "opendkim"},
}

// ClusterName is the ECS cluster of the mail tiers
// (aws_ecs_cluster.mail, terraform/infra/modules/ecs/main.tf).
const ClusterName = "cabal-mail"

// ECSModuleVariables are the variables of terraform/infra/modules/ecs
// (terraform/infra/modules/ecs/variables.tf). The region is "region".
var ECSModuleVariables = []string{
	"private_subnets", "vpc_id", "cidr_block", "login_trusted_cidrs", "region",
	"control_domain", "table_arn", "efs_id", "smtp_queue_access_point_id",
	"smtp_in_queue_access_point_id", "user_pool_arn", "user_pool_id", "client_id",
	"ecr_repository_urls", "image_tags", "instance_type", "deregistration_delay",
	"unhealthy_threshold", "healthcheck_ping_param", "quiesced", "sinkhole", "environment",
}

// ECSModuleOutputs are the outputs of terraform/infra/modules/ecs
// (terraform/infra/modules/ecs/outputs.tf).
var ECSModuleOutputs = []string{
	"cluster_name", "cluster_arn", "capacity_provider_name", "sns_topic_arn",
	"push_queue_arn", "imap_service_name", "smtp_in_service_name",
	"smtp_out_service_name", "relay_target_group_arn", "tier_log_group_names",
	"imap_internal_host", "smtp_internal_host",
}

// RootVariables are the variables of the root stack
// (terraform/infra/variables.tf). The region is "aws_region" there; the
// Lambda bucket is not a variable but module.bucket.bucket.
var RootVariables = []string{
	"environment", "aws_region", "prod", "dnssec_enabled", "dr_region", "email",
	"availability_zones", "cidr_block", "repo", "control_domain", "mail_domains",
	"backup", "monitoring", "imap_pool_enabled", "sinkhole",
	"healthchecks_registration_open", "quiesced", "use_nat_instance", "build_nat_ami",
	"lambda_pinned_hashes", "ten_dlc_campaign_registration_id", "invitation_code",
	"deploy_role_arn", "enforce_admin_mfa", "enforce_user_mfa",
	"threat_protection_enforced",
}

// LambdaBucketExpression is how the root stack passes the Lambda bucket to
// the monitoring module (module "monitoring", terraform/infra/main.tf).
const LambdaBucketExpression = "module.bucket.bucket"

// SecurityGroupRuleResource is the resource type cabal-infra manages the
// mail tiers' security-group rules with (terraform/infra/modules/ecs/
// security_group.tf). The AWS provider warns against mixing it with
// aws_vpc_security_group_ingress_rule on the same group.
const SecurityGroupRuleResource = "aws_security_group_rule"

// ServiceDiscoveryNamespace is the mail tiers' Cloud Map namespace and
// the services registered in it (local.sd_namespace_name etc.,
// terraform/infra/modules/ecs/service_discovery.tf). smtp-in has none.
const ServiceDiscoveryNamespace = "cabal.internal"

// CloudMapServices are the Cloud Map services of the mail tiers
// (terraform/infra/modules/ecs/service_discovery.tf).
var CloudMapServices = []string{"imap", "smtp-out"}

// ScrapeJobs are the jobs of cabal-infra's Prometheus
// (docker/prometheus/prometheus.yml). mailtier must not declare them again.
var ScrapeJobs = []string{
	"prometheus", "alertmanager", "cloudwatch", "cloudwatch-us-east-1",
	"blackbox-http", "blackbox-tcp", "blackbox-tls", "blackbox-imap-starttls", "node",
}

// ProbedListeners are the targets cabal-infra's blackbox jobs probe
// (docker/prometheus/prometheus.yml; __CONTROL_DOMAIN__ is substituted by
// its entrypoint).
var ProbedListeners = []string{
	"https://__CONTROL_DOMAIN__/", "https://ntfy.__CONTROL_DOMAIN__/v1/health",
	"smtp-in.__CONTROL_DOMAIN__:25", "smtp-out.__CONTROL_DOMAIN__:587",
	"smtp-out.__CONTROL_DOMAIN__:465", "imap.cabal.internal:143",
}

// RemovedListeners are listeners that no longer exist: the NLB's IMAPS
// listener on 993 was removed (#778; the comment on job blackbox-tls in
// docker/prometheus/prometheus.yml, and 99-no-imaps.conf, which sets the
// imaps inet_listener port to 0).
var RemovedListeners = []string{"imap.__CONTROL_DOMAIN__:993", "993"}

// PrometheusRuleGlob is where cabal-infra's Prometheus reads rule files
// (rule_files in docker/prometheus/prometheus.yml; not recursive).
const PrometheusRuleGlob = "/etc/prometheus/rules/*.yml"

// Alert is one of cabal-infra's alerting rules and the series it reads.
type Alert struct {
	Name   string
	Series []string
}

// Alerts are the 16 alerting rules of cabal-infra
// (docker/prometheus/rules/alerts.yml), with the metric names each
// expression selects.
var Alerts = []Alert{
	{"Lambda5xxSpike", []string{"aws_apigateway_5_xxerror_sum", "aws_apigateway_count_sum"}},
	{"LambdaThrottles", []string{"aws_lambda_throttles_sum"}},
	{"LambdaErrors", []string{"aws_lambda_errors_sum"}},
	{"DynamoDBThrottling", []string{"aws_dynamodb_throttled_requests_sum"}},
	{"DynamoDBSystemErrors", []string{"aws_dynamodb_system_errors_sum"}},
	{"EFSBurstCreditsLow", []string{"aws_efs_burst_credit_balance_average"}},
	{"ContainerRestartLoop", []string{"ecs_containerinsights_running_task_count_average", "ecs_containerinsights_desired_task_count_average"}},
	{"BlackboxProbeFailure", []string{"probe_success"}},
	{"BlackboxTLSCertExpiringSoonWarning", []string{"probe_ssl_earliest_cert_expiry"}},
	{"BlackboxTLSCertExpiringSoonCritical", []string{"probe_ssl_earliest_cert_expiry"}},
	{"NodeHighCPU", []string{"node_cpu_seconds_total"}},
	{"NodeHighMemory", []string{"node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}},
	{"NodeDiskSpaceLow", []string{"node_filesystem_avail_bytes", "node_filesystem_size_bytes"}},
	{"SendmailDeferredSpike", []string{"aws_cabalmail_logs_sendmail_deferred_sum"}},
	{"SendmailBouncedSpike", []string{"aws_cabalmail_logs_sendmail_bounced_sum"}},
	{"IMAPAuthFailureSpike", []string{"aws_cabalmail_logs_imap_auth_failures_sum"}},
}

// RunbookBaseURL is where cabal-infra's rules point runbook_url
// (docker/prometheus/rules/alerts.yml; files in docs/operations/runbooks/).
const RunbookBaseURL = "https://github.com/cabalmail/cabal-infra/blob/main/docs/operations/runbooks/"

// CloudWatchMetric is one metric rule of a cloudwatch_exporter config.
type CloudWatchMetric struct {
	Namespace  string
	Name       string
	Statistics []string // aws_statistics and aws_extended_statistics
}

// CloudWatchMetrics are the metrics of cabal-infra's two
// cloudwatch_exporter configs (docker/cloudwatch-exporter/config.yml and
// docker/cloudwatch-exporter/config-us-east-1.yml).
var CloudWatchMetrics = []CloudWatchMetric{
	{"AWS/ApiGateway", "5XXError", []string{"Sum"}},
	{"AWS/ApiGateway", "4XXError", []string{"Sum"}},
	{"AWS/ApiGateway", "Count", []string{"Sum"}},
	{"AWS/ApiGateway", "IntegrationLatency", []string{"Average", "p95", "p99"}},
	{"AWS/Lambda", "Duration", []string{"Average", "p95", "p99"}},
	{"AWS/Lambda", "Errors", []string{"Sum"}},
	{"AWS/Lambda", "Throttles", []string{"Sum"}},
	{"AWS/Lambda", "Invocations", []string{"Sum"}},
	{"AWS/Lambda", "ConcurrentExecutions", []string{"Maximum"}},
	{"AWS/DynamoDB", "ThrottledRequests", []string{"Sum"}},
	{"AWS/DynamoDB", "SystemErrors", []string{"Sum"}},
	{"AWS/DynamoDB", "SuccessfulRequestLatency", []string{"Average", "p95"}},
	{"AWS/DynamoDB", "ConsumedReadCapacityUnits", []string{"Sum"}},
	{"AWS/DynamoDB", "ConsumedWriteCapacityUnits", []string{"Sum"}},
	{"AWS/EFS", "BurstCreditBalance", []string{"Average"}},
	{"AWS/EFS", "PercentIOLimit", []string{"Average"}},
	{"AWS/EFS", "ClientConnections", []string{"Sum"}},
	{"AWS/EFS", "StorageBytes", []string{"Average"}},
	{"AWS/EFS", "TotalIOBytes", []string{"Sum"}},
	{"AWS/EFS", "DataReadIOBytes", []string{"Sum"}},
	{"AWS/EFS", "DataWriteIOBytes", []string{"Sum"}},
	{"AWS/ECS", "CPUUtilization", []string{"Average", "Maximum"}},
	{"AWS/ECS", "MemoryUtilization", []string{"Average", "Maximum"}},
	{"ECS/ContainerInsights", "RunningTaskCount", []string{"Average"}},
	{"ECS/ContainerInsights", "DesiredTaskCount", []string{"Average"}},
	{"ECS/ContainerInsights", "PendingTaskCount", []string{"Average"}},
	{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", []string{"Sum"}},
	{"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", []string{"Sum"}},
	{"AWS/ApplicationELB", "TargetResponseTime", []string{"Average", "p95"}},
	{"AWS/Cognito", "SignInSuccesses", []string{"Sum"}},
	{"AWS/Cognito", "SignInThrottles", []string{"Sum"}},
	{"Cabalmail/Logs", "SendmailDeferred", []string{"Sum"}},
	{"Cabalmail/Logs", "SendmailBounced", []string{"Sum"}},
	{"Cabalmail/Logs", "IMAPAuthFailures", []string{"Sum"}},
	// config-us-east-1.yml
	{"AWS/CloudFront", "Requests", []string{"Sum"}},
	{"AWS/CloudFront", "BytesDownloaded", []string{"Sum"}},
	{"AWS/CloudFront", "BytesUploaded", []string{"Sum"}},
	{"AWS/CloudFront", "4xxErrorRate", []string{"Average"}},
	{"AWS/CloudFront", "5xxErrorRate", []string{"Average"}},
	{"AWS/CloudFront", "TotalErrorRate", []string{"Average"}},
}

// CloudWatchExporterImage is the cloudwatch_exporter image cabal-infra
// runs (docker/cloudwatch-exporter/Dockerfile); its configs are baked in
// at /config/config.yml and /config/config-us-east-1.yml.
const CloudWatchExporterImage = "prom/cloudwatch-exporter:v0.18.0@sha256:da88be5880dc8413639b67904bf98525552c84282eff74e54556e00956520512"

// Images cabal-infra pins by digest for the services mailtier adds to
// (docker/prometheus/Dockerfile, docker/alertmanager/Dockerfile,
// docker/grafana/Dockerfile).
const (
	PrometheusImage   = "prom/prometheus:v3.13.2@sha256:508729e0e2d18e11fd742a5a5ca70e557b940a93948c3c95fd0123a6fd538b69"
	AlertmanagerImage = "prom/alertmanager:v0.33.1@sha256:9e082985f56f4c8c9f724e18f2288c6708f472e56a5286b8863d080434ea065d"
	GrafanaImage      = "grafana/grafana:13.1.4@sha256:9be3a3ccdb06bcbb127f888b0c4c1d151837443e478887897a63a27d7b348043"
)

// BuildContext is the directory .github/workflows/app.yml builds every
// image from: docker buildx build -f docker/<tier>/Dockerfile docker/.
const BuildContext = "docker/"

// DockerContextFiles are the paths, relative to the build context, that
// cabal-infra's own Dockerfiles for Prometheus and Grafana copy
// (docker/prometheus/Dockerfile, docker/grafana/Dockerfile).
var DockerContextFiles = []string{
	"prometheus/prometheus.yml", "prometheus/rules/", "prometheus/entrypoint.sh",
	"grafana/provisioning/", "grafana/dashboards/",
}

// GrafanaDashboardsPath is the path of cabal-infra's dashboard provider
// (docker/grafana/provisioning/dashboards/dashboards.yml). Grafana's file
// provider reads it recursively.
const GrafanaDashboardsPath = "/etc/grafana/dashboards"

// GrafanaDashboards are cabal-infra's dashboards by file
// (docker/grafana/dashboards/*.json) and their UIDs.
var GrafanaDashboards = map[string]string{
	"api-gateway.json":  "cabal-api-gateway",
	"aws-services.json": "cabal-aws-services",
	"frontend.json":     "cabal-frontend",
	"mail-tiers.json":   "cabal-mail-tiers",
}

// GrafanaDatasourceUID is the UID of the Prometheus data source cabal-infra
// provisions (docker/grafana/provisioning/datasources/prometheus.yml).
const GrafanaDatasourceUID = "prometheus"

// SetprivCapabilities returns tier's capabilities in the form setpriv(1)
// takes for --bounding-set: "-all,+kill,+net_bind_service,...". It panics
// on a tier that is not in Capabilities (a programming error).
func SetprivCapabilities(tier string) string {
	caps, ok := Capabilities[tier]
	if !ok {
		panic("upstream: no tier " + tier)
	}
	s := "-all"
	for _, c := range caps {
		s += ",+" + strings.ToLower(c)
	}
	return s
}

// MonitoringModuleOutputs are the outputs of terraform/infra/modules/
// monitoring (terraform/infra/modules/monitoring/outputs.tf). The module is
// called with count = var.monitoring ? 1 : 0 (terraform/infra/main.tf).
var MonitoringModuleOutputs = []string{
	"alert_sink_function_url", "alert_secret_parameter_name",
	"pushover_user_key_parameter_name", "pushover_app_token_parameter_name",
	"ntfy_publisher_token_parameter_name", "uptime_url", "ntfy_url",
	"ntfy_service_name", "heartbeat_url", "healthchecks_service_name",
	"healthcheck_ping_parameter_names", "metrics_url",
	"grafana_admin_password_parameter_name", "prometheus_service_name",
	"alertmanager_service_name", "grafana_service_name",
}

// Resources are resource addresses that exist in cabal-infra's modules,
// by module directory: what an output added to that module may refer to.
var Resources = map[string][]string{
	// terraform/infra/modules/ecs: security_group.tf, service_discovery.tf,
	// services.tf, main.tf, task-definitions.tf.
	"terraform/infra/modules/ecs": {
		"aws_security_group.tier", "aws_service_discovery_private_dns_namespace.mail",
		"aws_service_discovery_service.imap", "aws_service_discovery_service.smtp_out",
		"aws_ecs_service.imap", "aws_ecs_service.smtp_in", "aws_ecs_service.smtp_out",
		"aws_ecs_cluster.mail", "aws_ecs_task_definition.imap",
		"aws_ecs_task_definition.smtp_in", "aws_ecs_task_definition.smtp_out",
		"terraform_data.imap_taskdef_revision_marker",
		"terraform_data.smtp_in_taskdef_revision_marker",
		"terraform_data.smtp_out_taskdef_revision_marker",
	},
	// terraform/infra/modules/monitoring/security_groups.tf.
	"terraform/infra/modules/monitoring": {"aws_security_group.prometheus"},
}

// InfraWorkflow is the workflow that writes terraform.tfvars for the infra
// stack, one echo line per variable, e.g. `echo "monitoring =
// ${{ vars.TF_VAR_MONITORING }}" >> terraform.tfvars`
// (.github/workflows/infra.yml).
const InfraWorkflow = ".github/workflows/infra.yml"

// Files are the cabal-infra files docs/adopting.md changes or relies on;
// each exists at Commit (git cat-file -e HEAD:<path>). Directories end
// in /.
var Files = []string{
	".github/scripts/deploy-ecs-service.sh",
	".github/workflows/app.yml",
	".github/workflows/infra.yml",
	"docker/",
	"docker/alertmanager/alertmanager.yml.tmpl",
	"docker/cloudwatch-exporter/config.yml",
	"docker/cloudwatch-exporter/config-us-east-1.yml",
	"docker/grafana/Dockerfile",
	"docker/grafana/dashboards/",
	"docker/grafana/provisioning/dashboards/",
	"docker/grafana/provisioning/dashboards/dashboards.yml",
	"docker/imap/Dockerfile", "docker/smtp-in/Dockerfile", "docker/smtp-out/Dockerfile",
	"docker/imap/supervisord.conf", "docker/smtp-in/supervisord.conf", "docker/smtp-out/supervisord.conf",
	"docker/prometheus/", "docker/prometheus/Dockerfile", "docker/prometheus/prometheus.yml",
	"docker/prometheus/rules/", "docker/prometheus/rules/alerts.yml",
	"docker/shared/rsyslog-mail.conf", "docker/shared/sendmail-wrapper.sh",
	"docker/templates/imap-sendmail.mc", "docker/templates/in-sendmail.mc", "docker/templates/out-sendmail.mc",
	"docs/operations/runbooks/",
	"terraform/infra/main.tf", "terraform/infra/variables.tf", "terraform/infra/modules/",
	"terraform/infra/modules/ecs/outputs.tf", "terraform/infra/modules/ecs/security_group.tf",
	"terraform/infra/modules/ecs/service_discovery.tf", "terraform/infra/modules/ecs/services.tf",
	"terraform/infra/modules/ecs/task-definitions.tf", "terraform/infra/modules/ecs/variables.tf",
	"terraform/infra/modules/monitoring/log_metrics.tf", "terraform/infra/modules/monitoring/outputs.tf",
	"terraform/infra/modules/monitoring/security_groups.tf", "terraform/infra/modules/monitoring/ssm.tf",
}
