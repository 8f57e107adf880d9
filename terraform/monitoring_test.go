package terraform_test

// The monitoring module needs the AWS provider, which terraform cannot
// install offline. Every value its resources are set to, and every count
// and for_each, is therefore computed by its provider-free child module
// (modules/mailtier_monitoring/settings), which the resources only read.
// The tests plan that child with terraform, called exactly as the module
// calls it (the module's own variables.tf and settings.tf), with the facts
// only AWS knows (account, ARNs) set by an override file, and compare what
// terraform computes with testdata/monitoring.json (-update
// rewrites it). The fast tier checks the properties the deployment
// depends on in those goldens.

import "encoding/json"
import "fmt"
import "maps"
import "path/filepath"
import "reflect"
import "regexp"
import "slices"
import "sort"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/upstream"

// The account and the values AWS gives the module's data sources and
// resources in the tests.
const (
	testAccount        = "123456789012"
	testKeyARN         = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	testTableARN       = "arn:aws:dynamodb:us-east-1:123456789012:table/cabal-mailtier-alert-sink-dedupe"
	testLogARN         = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/cabal-mailtier-alert-sink"
	testCloudMapID     = "srv-0000000000000000"
	testTableName      = "cabal-mailtier-alert-sink-dedupe"
	testPrometheusSG   = "sg-0000000000000000d"
	testNamespaceID    = "ns-0000000000000000"
	testNtfyBaseURL    = "https://ntfy.example.com"
	testSMTPInService  = "cabal-smtp-in"
	testLambdaBucket   = "cabal-lambda-bucket"
	monitoringSettings = "modules/mailtier_monitoring/settings"
)

var testTierGroups = map[string]string{
	"imap":     "sg-0000000000000000a",
	"smtp-in":  "sg-0000000000000000b",
	"smtp-out": "sg-0000000000000000c",
}

// awsFactsOverride sets, in a copy of the monitoring module, the
// arguments of its settings call that read data sources and resources:
// what AWS would return for them, null while monitoring is off (the data
// sources and resources have no instances then).
var awsFactsOverride = fmt.Sprintf(`module "settings" {
  partition                    = var.monitoring ? "aws" : null
  account_id                   = var.monitoring ? %q : null
  ssm_kms_key_arn              = var.monitoring ? %q : null
  dedupe_table_arn             = var.monitoring ? %q : null
  log_group_arn                = var.monitoring ? %q : null
  smtp_in_discovery_service_id = var.monitoring ? %q : null
}
`, testAccount, testKeyARN, testTableARN, testLogARN, testCloudMapID)

// monitoringInputs are test values for every variable of the monitoring
// module that has no useful default.
func monitoringInputs(on bool) map[string]any {
	return map[string]any{
		"monitoring":                     on,
		"aws_region":                     "us-east-1",
		"tier_security_group_ids":        testTierGroups,
		"prometheus_security_group_id":   testPrometheusSG,
		"service_discovery_namespace_id": testNamespaceID,
		"lambda_bucket":                  testLambdaBucket,
		"ntfy_base_url":                  testNtfyBaseURL,
		"ecs_cluster_name":               upstream.ClusterName,
		"smtp_in_service_name":           testSMTPInService,
	}
}

// monitoringScenarios are the inputs the monitoring module is planned
// with; each has its entry in testdata/monitoring.json.
var monitoringScenarios = map[string]map[string]any{
	"on":  monitoringInputs(true),
	"off": monitoringInputs(false),
	// As upstream calls it today: monitoring off and none of the other
	// inputs.
	"defaults": {"aws_region": "us-east-1"},
	// cabal-infra's quiesced flag: the bracket restores smtp-in to 0.
	"quiesced": with(monitoringInputs(true), "quiesced", true),
}

// planMonitoring plans a root module that calls a copy of the monitoring
// module holding only what terraform can plan offline (its variables.tf,
// settings.tf and settings/, the AWS facts override, and an output of
// module.settings) with inputs. It returns the settings as terraform
// computes them, decoded from JSON, or terraform's errors.
func planMonitoring(t *testing.T, tf string, inputs map[string]any) (any, []tfDiagnostic) {
	t.Helper()
	dir := t.TempDir()
	mod := filepath.Join(dir, "monitoring")
	for _, f := range []string{"variables.tf", "settings.tf"} {
		writeFile(t, filepath.Join(mod, f), readTerraformFile(t, filepath.Join(monitoringDir, f)))
	}
	copyDir(t, monitoringSettings, filepath.Join(mod, "settings"))
	writeFile(t, filepath.Join(mod, "aws_facts_override.tf"), awsFactsOverride)
	writeFile(t, filepath.Join(mod, "settings_output.tf"), "output \"settings\" {\n  value = module.settings\n}\n")

	call := map[string]any{"source": "./monitoring"}
	for k, v := range inputs {
		call[k] = v
	}
	main, err := json.Marshal(map[string]any{
		"module": map[string]any{"monitoring": call},
		"output": map[string]any{"settings": map[string]any{"value": "${module.monitoring.settings}"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "main.tf.json"), string(main))
	plan, diags := planRoot(t, tf, dir)
	if plan == nil {
		return nil, diags
	}
	// settings must stay provider-free, or this test cannot plan it.
	plan.checkProviderFree(t, "settings", plan.Configuration.RootModule.ModuleCalls["monitoring"].Module.ModuleCalls["settings"].Module)
	var settings any
	if err := json.Unmarshal(plan.outputs()["settings"], &settings); err != nil {
		t.Fatal(err)
	}
	return settings, nil
}

// TestMonitoringValidations: each value a validation rule of the module's
// variables refuses, with the error terraform gives for it, and values
// next to them that it accepts.
func TestMonitoringValidations(t *testing.T) {
	const (
		s3KeyMessage          = "lambda/alert_sink.zip is cabal-infra's Python alert_sink; use another key."
		parameterNamesMessage = "Parameter names must be full paths starting with /."
		concurrencyMessage    = "Reserve at least 20 (a burst of every monitor at once), or -1 for the unreserved pool."
	)
	parameterNames := func(shared string) map[string]string {
		return map[string]string{"shared_secret": shared, "pushover_user_key": "/a", "pushover_app_token": "/b", "ntfy_publisher_token": "/c"}
	}
	cases := []inputCase{
		{"alert_sink_s3_key", upstreamAlertSinkS3Key, invalidVariable, s3KeyMessage},
		{"alert_sink_s3_key", "lambda/other.zip", "", ""},
		{"alert_sink_parameter_names", parameterNames("cabal/alert_sink_secret"), invalidVariable, parameterNamesMessage},
		{"alert_sink_parameter_names", parameterNames("/cabal/alert_sink_secret"), "", ""},
		{"alert_sink_reserved_concurrency", 0, invalidVariable, concurrencyMessage},
		{"alert_sink_reserved_concurrency", 1, invalidVariable, concurrencyMessage},
		{"alert_sink_reserved_concurrency", 19, invalidVariable, concurrencyMessage},
		{"alert_sink_reserved_concurrency", -2, invalidVariable, concurrencyMessage},
		{"alert_sink_reserved_concurrency", 20, "", ""},
		{"alert_sink_reserved_concurrency", 100, "", ""},
		{"alert_sink_reserved_concurrency", -1, "", ""},
	}
	checkInputs(t, monitoringInputs(true), cases, planMonitoring, func(t *testing.T, c inputCase, d tfDiagnostic) {
		_, rule, _ := strings.Cut(d.Detail, "\n\n")
		// The values terraform shows are the variable or its attributes.
		var refs []string
		for _, v := range d.Snippet.Values {
			if v.Traversal != "var."+c.variable && !strings.HasPrefix(v.Traversal, "var."+c.variable+".") {
				refs = append(refs, v.Traversal)
			}
		}
		if !strings.HasPrefix(rule, "This was checked by the validation rule at monitoring/variables.tf:") ||
			len(d.Snippet.Values) == 0 || len(refs) != 0 {
			t.Errorf("terraform says %q (about other variables %v), want the rule of monitoring/variables.tf about var.%s",
				rule, refs, c.variable)
		}
	})
}

// monitoringSettingsGolden is a golden file: module.settings of the
// monitoring module, as terraform computes it.
type monitoringSettingsGolden struct {
	Instances struct {
		AlertSink               int `json:"alert_sink"`
		SMTPInDiscoveryService  int `json:"smtp_in_discovery_service"`
		SMTPInCloudMapLifecycle int `json:"smtp_in_cloud_map_lifecycle"`
	} `json:"instances"`
	ExporterIngressRules map[string]struct {
		Type                  string `json:"type"`
		SecurityGroupID       string `json:"security_group_id"`
		SourceSecurityGroupID string `json:"source_security_group_id"`
		Protocol              string `json:"protocol"`
		FromPort              int    `json:"from_port"`
		ToPort                int    `json:"to_port"`
		Description           string `json:"description"`
	} `json:"exporter_ingress_rules"`
	SMTPInDiscoveryService *struct {
		Name          string `json:"name"`
		NamespaceID   string `json:"namespace_id"`
		RoutingPolicy string `json:"routing_policy"`
		DNSRecord     struct {
			TTL  int    `json:"ttl"`
			Type string `json:"type"`
		} `json:"dns_record"`
	} `json:"smtp_in_discovery_service"`
	SMTPInCloudMapLifecycle struct {
		TriggersReplace []any `json:"triggers_replace"`
		Input           struct {
			ClusterName    string `json:"cluster_name"`
			ECSServiceName string `json:"ecs_service_name"`
			Region         string `json:"region"`
			DesiredCount   int    `json:"desired_count"`
			Registered     bool   `json:"registered"`
		} `json:"input"`
	} `json:"smtp_in_cloud_map_lifecycle"`
	AlertSink               *alertSinkSettings          `json:"alert_sink"`
	AlertSinkPolicy         *string                     `json:"alert_sink_policy"`
	AlertSinkURLPermissions map[string]lambdaPermission `json:"alert_sink_url_permissions"`
	ParameterNames          map[string]string           `json:"parameter_names"`
	ScrapeTargets           map[string]struct {
		Name string `json:"name"`
		Port int    `json:"port"`
	} `json:"scrape_targets"`
}

func loadMonitoring(t *testing.T, scenario string) monitoringSettingsGolden {
	t.Helper()
	var g monitoringSettingsGolden
	decodeGolden(t, "monitoring", scenario, &g)
	return g
}

// Every resource and data source of the monitoring module, and the
// settings output that counts its instances.
var monitoringBlocks = map[string]string{
	"aws_security_group_rule.exporter":           "for_each = module.settings.exporter_ingress_rules",
	"aws_service_discovery_service.smtp_in":      "count = module.settings.instances.smtp_in_discovery_service",
	"terraform_data.smtp_in_cloud_map_lifecycle": "count = module.settings.instances.smtp_in_cloud_map_lifecycle",
	"data.aws_caller_identity.current":           "count = module.settings.instances.alert_sink",
	"data.aws_partition.current":                 "count = module.settings.instances.alert_sink",
	"aws_dynamodb_table.alert_sink_dedupe":       "count = module.settings.instances.alert_sink",
	"aws_cloudwatch_log_group.alert_sink":        "count = module.settings.instances.alert_sink",
	"aws_iam_role.alert_sink":                    "count = module.settings.instances.alert_sink",
	"data.aws_kms_alias.ssm":                     "count = module.settings.instances.alert_sink",
	"aws_iam_role_policy.alert_sink":             "count = module.settings.instances.alert_sink",
	"aws_lambda_function.alert_sink":             "count = module.settings.instances.alert_sink",
	"aws_lambda_function_url.alert_sink":         "count = module.settings.instances.alert_sink",
	"aws_lambda_permission.alert_sink_url":       "for_each = module.settings.alert_sink_url_permissions",
}

// monitoringSource is the text of the monitoring module's own .tf files
// (not settings/), by file name.
func monitoringSource(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(monitoringDir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s: %v", monitoringDir, err)
	}
	out := map[string]string{}
	for _, p := range paths {
		out[filepath.Base(p)] = readTerraformFile(t, p)
	}
	return out
}

var blockHead = regexp.MustCompile(`(?m)^(resource|data) "([a-z0-9_]+)" "([a-z0-9_]+)" \{\n(.*)$`)

// TestMonitoringBlocksCountedBySettings: every resource and data source of
// the module takes its count or for_each, first in its block, from
// module.settings, whose values the goldens hold; there is no other. The
// files are terraform fmt'ed (TestTerraformFormatting), so the text is
// canonical.
func TestMonitoringBlocksCountedBySettings(t *testing.T) {
	got := map[string]string{}
	for file, src := range monitoringSource(t) {
		heads := blockHead.FindAllStringSubmatch(src, -1)
		if n := len(regexp.MustCompile(`(?m)^(resource|data) `).FindAllString(src, -1)); n != len(heads) {
			t.Errorf("%s: %d resource or data blocks, %d in canonical form", file, n, len(heads))
		}
		for _, h := range heads {
			addr := h[2] + "." + h[3]
			if h[1] == "data" {
				addr = "data." + addr
			}
			got[addr] = strings.Join(strings.Fields(h[4]), " ")
		}
	}
	if !reflect.DeepEqual(got, monitoringBlocks) {
		t.Errorf("resource and data blocks, with their first line:\n got %v\nwant %v", got, monitoringBlocks)
	}
}

// TestMonitoringMovedBlocks: the Function URL's two permissions were
// aws_lambda_permission.alert_sink_url[0] and alert_sink_url_invoke[0]
// before they became one resource over a map by statement id. Each old
// address is moved to its key, so that a deployment made with the old
// module keeps its permissions instead of replacing them.
func TestMonitoringMovedBlocks(t *testing.T) {
	moved := regexp.MustCompile(`(?m)^moved \{\n  from = (\S+)\n  to   = (\S+)\n\}$`)
	got := map[string]string{}
	for _, src := range monitoringSource(t) {
		for _, m := range moved.FindAllStringSubmatch(src, -1) {
			got[m[1]] = m[2]
		}
	}
	want := map[string]string{
		"aws_lambda_permission.alert_sink_url[0]":        `aws_lambda_permission.alert_sink_url["FunctionURLAllowPublicAccess"]`,
		"aws_lambda_permission.alert_sink_url_invoke[0]": `aws_lambda_permission.alert_sink_url["FunctionURLInvokeAllowPublicAccess"]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("moved blocks %v, want %v", got, want)
	}
	if keys := slices.Sorted(maps.Keys(loadMonitoring(t, "on").AlertSinkURLPermissions)); !slices.Equal(keys, []string{"FunctionURLAllowPublicAccess", "FunctionURLInvokeAllowPublicAccess"}) {
		t.Errorf("permission keys %v: the moved blocks name keys that do not exist", keys)
	}
}

func TestMonitoringModuleOff(t *testing.T) {
	for _, scenario := range []string{"off", "defaults"} {
		g := loadMonitoring(t, scenario)
		// The Cloud Map bracket exists whenever the cluster is named: its
		// replacement when monitoring is turned off is what drains smtp-in
		// before the registry is deleted, and restores it after.
		bracket := 1
		if scenario == "defaults" {
			bracket = 0
		}
		if g.Instances.AlertSink != 0 || g.Instances.SMTPInDiscoveryService != 0 || g.Instances.SMTPInCloudMapLifecycle != bracket {
			t.Errorf("%s: instances %+v, want none but %d bracket", scenario, g.Instances, bracket)
		}
		if len(g.ExporterIngressRules) != 0 || g.SMTPInDiscoveryService != nil || g.AlertSink != nil ||
			g.AlertSinkPolicy != nil || len(g.AlertSinkURLPermissions) != 0 || len(g.ParameterNames) != 0 || len(g.ScrapeTargets) != 0 {
			t.Errorf("%s: monitoring off still sets %+v", scenario, g)
		}
	}
	// Off, the bracket has no registry to drain when it is replaced.
	off := loadMonitoring(t, "off").SMTPInCloudMapLifecycle
	if !reflect.DeepEqual(off.TriggersReplace, []any{"", false}) || off.Input.Registered || off.Input.DesiredCount != 1 {
		t.Errorf("off: bracket %+v, want triggers [\"\" false], not registered, desired 1", off)
	}
}

func TestMonitoringModuleOn(t *testing.T) {
	g := loadMonitoring(t, "on")
	if g.Instances.AlertSink != 1 || g.Instances.SMTPInDiscoveryService != 1 || g.Instances.SMTPInCloudMapLifecycle != 1 {
		t.Errorf("instances %+v, want one of each", g.Instances)
	}
	var tiers []string
	for tier := range g.ExporterIngressRules {
		tiers = append(tiers, tier)
	}
	sort.Strings(tiers)
	if !reflect.DeepEqual(tiers, []string{"imap", "smtp-in", "smtp-out"}) {
		t.Errorf("exporter ingress rules for %v", tiers)
	}
	wantTargets := map[string]string{"imap": "imap.cabal.internal", "smtp-in": "smtp-in.cabal.internal", "smtp-out": "smtp-out.cabal.internal"}
	for tier, name := range wantTargets {
		if got := g.ScrapeTargets[tier]; got.Name != name || got.Port != 9469 {
			t.Errorf("scrape target %s = %+v, want %s:9469", tier, got, name)
		}
	}
	if len(g.ScrapeTargets) != len(wantTargets) {
		t.Errorf("scrape targets %v", g.ScrapeTargets)
	}
	// The module's outputs of the same names are these settings.
	outputs := monitoringSource(t)["outputs.tf"]
	for _, name := range []string{"parameter_names", "scrape_targets"} {
		if !regexp.MustCompile(`(?m)^output "` + name + `" \{\n(  description = .*\n)?  value += module\.settings\.` + name + `\n\}$`).MatchString(outputs) {
			t.Errorf("outputs.tf: output %s is not module.settings.%s", name, name)
		}
	}
}

func TestExporterIngressRules(t *testing.T) {
	// cabal-infra manages the tier groups' rules with aws_security_group_rule
	// (modules/ecs/security_group.tf); the provider warns against mixing
	// it with aws_vpc_security_group_ingress_rule on the same group.
	if _, ok := monitoringBlocks[upstream.SecurityGroupRuleResource+".exporter"]; !ok {
		t.Errorf("the exporter rules are not %s", upstream.SecurityGroupRuleResource)
	}
	g := loadMonitoring(t, "on")
	for tier, sg := range testTierGroups {
		r := g.ExporterIngressRules[tier]
		if r.Type != "ingress" || r.SecurityGroupID != sg || r.SourceSecurityGroupID != testPrometheusSG || r.Protocol != "tcp" ||
			r.FromPort != 9469 || r.ToPort != 9469 || r.Description != "mailtier exporter scrape from Prometheus ("+tier+")" {
			t.Errorf("%s: rule %+v", tier, r)
		}
	}
	sd := g.SMTPInDiscoveryService
	if sd == nil || sd.Name != "smtp-in" || sd.NamespaceID != testNamespaceID || sd.RoutingPolicy != "MULTIVALUE" ||
		sd.DNSRecord.Type != "A" || sd.DNSRecord.TTL != 10 {
		t.Errorf("Cloud Map service %+v, want smtp-in in %s, MULTIVALUE, one A record with TTL 10", sd, testNamespaceID)
	}
}

// TestCloudMapLikeUpstream: the smtp-in Cloud Map service is declared as
// cabal-infra declares its imap and smtp-out services
// (modules/ecs/service_discovery.tf): no health_check_custom_config (its
// failure_threshold is deprecated; AWS pins it server-side), the block
// ignored, and the drain / force-new-deployment bracket around it, so that
// deleting it (monitoring turned off) does not fail on registered
// instances.
func TestCloudMapLikeUpstream(t *testing.T) {
	on := loadMonitoring(t, "on").SMTPInCloudMapLifecycle
	if !reflect.DeepEqual(on.TriggersReplace, []any{testCloudMapID, false}) {
		t.Errorf("triggers_replace = %v, want the Cloud Map service's ID and quiesced", on.TriggersReplace)
	}
	in := on.Input
	if in.ClusterName != upstream.ClusterName || in.ECSServiceName != testSMTPInService || in.Region != "us-east-1" || in.DesiredCount != 1 || !in.Registered {
		t.Errorf("bracket input %+v", in)
	}
	q := loadMonitoring(t, "quiesced").SMTPInCloudMapLifecycle
	if !reflect.DeepEqual(q.TriggersReplace, []any{testCloudMapID, true}) || q.Input.DesiredCount != 0 {
		t.Errorf("quiesced: bracket %+v, want triggers [%s true] and desired count 0", q, testCloudMapID)
	}

	// What terraform cannot plan offline, in the module's source text.
	network := monitoringSource(t)["network.tf"]
	if strings.Contains(network, "health_check_custom_config {") {
		t.Error("aws_service_discovery_service.smtp_in declares health_check_custom_config (failure_threshold is deprecated)")
	}
	if !strings.Contains(network, "  lifecycle {\n    ignore_changes = [health_check_custom_config]\n  }\n") {
		t.Error("aws_service_discovery_service.smtp_in does not ignore changes to health_check_custom_config")
	}
	destroy, create := provisionerCommands(t, network)
	for _, want := range []string{"--desired-count 0", "ecs wait services-stable", `if [ "${self.input.registered}" != "true" ]`} {
		if !strings.Contains(destroy, want) {
			t.Errorf("destroy-time provisioner lacks %q:\n%s", want, destroy)
		}
	}
	for _, want := range []string{"--desired-count ${self.input.desired_count}", "--force-new-deployment"} {
		if !strings.Contains(create, want) {
			t.Errorf("create-time provisioner lacks %q:\n%s", want, create)
		}
	}
}

// provisionerCommands returns the heredoc commands of the bracket's
// destroy-time and create-time local-exec provisioners.
func provisionerCommands(t *testing.T, src string) (destroy, create string) {
	t.Helper()
	re := regexp.MustCompile(`(?s)  provisioner "local-exec" \{\n(    when    = destroy\n)?    command = <<-EOT\n(.*?)\n    EOT\n  \}\n`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		if m[1] != "" {
			destroy = m[2]
		} else {
			create = m[2]
		}
	}
	if destroy == "" || create == "" {
		t.Fatal("network.tf: want one destroy-time and one create-time local-exec provisioner")
	}
	return destroy, create
}
