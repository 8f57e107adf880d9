package terraform_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cabalmail/mailtier/internal/upstream"
)

const (
	sidecarDir    = "modules/mailtier_sidecar"
	monitoringDir = "modules/mailtier_monitoring"
)

var (
	tiers     = []string{"imap", "smtp-in", "smtp-out"}
	testImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cabal-mailtier-exporter@sha256:" + strings.Repeat("0a", 32)
)

// The subset of ECS's ContainerDefinition the sidecar uses, with the API's
// field names. Decoding is strict, so a misspelt or unexpected key fails.
type ecsContainer struct {
	Name                   string              `json:"name"`
	Image                  string              `json:"image"`
	Essential              bool                `json:"essential"`
	CPU                    int                 `json:"cpu"`
	Memory                 int                 `json:"memory"`
	MemoryReservation      int                 `json:"memoryReservation"`
	User                   string              `json:"user"`
	ReadonlyRootFilesystem bool                `json:"readonlyRootFilesystem"`
	Command                []string            `json:"command"`
	Environment            []ecsKeyValue       `json:"environment"`
	PortMappings           []ecsPortMapping    `json:"portMappings"`
	MountPoints            []ecsMountPoint     `json:"mountPoints"`
	HealthCheck            ecsHealthCheck      `json:"healthCheck"`
	DependsOn              []ecsDependency     `json:"dependsOn"`
	RestartPolicy          ecsRestartPolicy    `json:"restartPolicy"`
	LinuxParameters        ecsLinuxParameters  `json:"linuxParameters"`
	DockerSecurityOptions  []string            `json:"dockerSecurityOptions"`
	StopTimeout            int                 `json:"stopTimeout"`
	LogConfiguration       ecsLogConfiguration `json:"logConfiguration"`
}

type ecsKeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsPortMapping struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

type ecsMountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}

type ecsHealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

type ecsDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

type ecsRestartPolicy struct {
	Enabled              bool `json:"enabled"`
	RestartAttemptPeriod int  `json:"restartAttemptPeriod"`
}

type ecsLinuxParameters struct {
	Capabilities struct {
		Add  []string `json:"add"`
		Drop []string `json:"drop"`
	} `json:"capabilities"`
}

type ecsLogConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

type taskVolume struct {
	Name   string `json:"name"`
	Scope  string `json:"scope"`
	Driver string `json:"driver"`
}

// TestTerraformFormatting runs terraform fmt -check over every module.
func TestTerraformFormatting(t *testing.T) {
	tf := terraformBinary(t)
	if out, err := runTerraform(t, tf, ".", "fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
		t.Errorf("terraform fmt -check: %v (run terraform fmt -recursive terraform/)\n%s", err, out)
	}
}

// monitoringInputs are test values for every variable of the monitoring
// module that has no useful default.
func monitoringInputs(on bool) map[string]cty.Value {
	return map[string]cty.Value{
		"monitoring": cty.BoolVal(on),
		"aws_region": cty.StringVal("us-east-1"),
		"tier_security_group_ids": cty.MapVal(map[string]cty.Value{
			"imap":     cty.StringVal("sg-0000000000000000a"),
			"smtp-in":  cty.StringVal("sg-0000000000000000b"),
			"smtp-out": cty.StringVal("sg-0000000000000000c"),
		}),
		"prometheus_security_group_id":   cty.StringVal("sg-0000000000000000d"),
		"service_discovery_namespace_id": cty.StringVal("ns-0000000000000000"),
		"lambda_bucket":                  cty.StringVal("cabal-lambda-bucket"),
		"ntfy_base_url":                  cty.StringVal("https://ntfy.example.com"),
		"ecs_cluster_name":               cty.StringVal(upstream.ClusterName),
		"smtp_in_service_name":           cty.StringVal("cabal-smtp-in"),
	}
}

func monitoringContext(t *testing.T, on bool) (*tfModule, *hcl.EvalContext) {
	t.Helper()
	m := loadModule(t, monitoringDir)
	ctx, err := m.context(monitoringInputs(on))
	if err != nil {
		t.Fatal(err)
	}
	return m, ctx
}

// Every resource and data source of the monitoring module, with its
// instances when monitoring is on ("" = count 1).
var monitoringBlocks = map[string][]string{
	"aws_security_group_rule.exporter":               {"imap", "smtp-in", "smtp-out"},
	"aws_service_discovery_service.smtp_in":          {""},
	"terraform_data.smtp_in_cloud_map_lifecycle":     {""},
	"data.aws_caller_identity.current":               {""},
	"data.aws_partition.current":                     {""},
	"aws_dynamodb_table.alert_sink_dedupe":           {""},
	"aws_cloudwatch_log_group.alert_sink":            {""},
	"data.aws_iam_policy_document.alert_sink_assume": {""},
	"aws_iam_role.alert_sink":                        {""},
	"data.aws_kms_alias.ssm":                         {""},
	"data.aws_iam_policy_document.alert_sink":        {""},
	"aws_iam_role_policy.alert_sink":                 {""},
	"aws_lambda_function.alert_sink":                 {""},
	"aws_lambda_function_url.alert_sink":             {""},
	"aws_lambda_permission.alert_sink_url":           {""},
	"aws_lambda_permission.alert_sink_url_invoke":    {""},
}

func TestMonitoringModuleOff(t *testing.T) {
	m, ctx := monitoringContext(t, false)
	if len(m.blocks) != len(monitoringBlocks) {
		t.Errorf("module has %d resource/data blocks, the test knows %d", len(m.blocks), len(monitoringBlocks))
	}
	for _, b := range m.blocks {
		if _, known := monitoringBlocks[b.address()]; !known {
			t.Errorf("%s is not covered by this test", b.address())
		}
		n, keys, err := b.instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The Cloud Map bracket exists either way: its replacement when
		// monitoring is turned off is what drains smtp-in before the
		// registry is deleted, and restores it after.
		want := 0
		if b.address() == "terraform_data.smtp_in_cloud_map_lifecycle" {
			want = 1
		}
		if n != want {
			t.Errorf("%s: %d instances (%v) with monitoring = false, want %d", b.address(), n, keys, want)
		}
	}
	// With monitoring off the module is also called with none of the
	// other inputs (as upstream does today); it must still plan.
	bare := loadModule(t, monitoringDir)
	bareCtx, err := bare.context(map[string]cty.Value{"aws_region": cty.StringVal("us-east-1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bare.blocks {
		if n, _, err := b.instances(bareCtx); err != nil || n != 0 {
			t.Errorf("%s with defaults only: %d instances, err %v", b.address(), n, err)
		}
	}
	octx, err := bare.withEmptyBlocks(bareCtx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range bare.outputs {
		val, err := bare.output(octx, name)
		if err != nil {
			t.Fatal(err)
		}
		empty := val.IsNull() || (val.Type().IsObjectType() || val.Type().IsMapType()) && val.LengthInt() == 0
		if !empty {
			t.Errorf("output %s = %#v with monitoring off, want null or empty", name, val)
		}
	}
}

func TestMonitoringModuleOn(t *testing.T) {
	m, ctx := monitoringContext(t, true)
	for _, b := range m.blocks {
		want, known := monitoringBlocks[b.address()]
		if !known {
			t.Errorf("%s is not covered by this test", b.address())
			continue
		}
		n, keys, err := b.instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want[0] == "" {
			if n != 1 || keys != nil {
				t.Errorf("%s: %d instances %v, want count 1", b.address(), n, keys)
			}
		} else if !reflect.DeepEqual(keys, want) {
			t.Errorf("%s: instances %v, want %v", b.address(), keys, want)
		}
	}
}

func eachContext(ctx *hcl.EvalContext, key string, value cty.Value) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": value})}
	return child
}

func TestExporterIngressRules(t *testing.T) {
	m, ctx := monitoringContext(t, true)
	// cabal-infra manages the tier groups' rules with aws_security_group_rule
	// (modules/ecs/security_group.tf); the provider warns against mixing
	// it with aws_vpc_security_group_ingress_rule on the same group.
	for _, blk := range m.blocks {
		if strings.HasPrefix(blk.typ, "aws_vpc_security_group_") {
			t.Errorf("%s: cabal-infra's groups are managed with %s", blk.address(), upstream.SecurityGroupRuleResource)
		}
	}
	b := m.block(t, upstream.SecurityGroupRuleResource+".exporter")
	sgs := monitoringInputs(true)["tier_security_group_ids"].AsValueMap()
	for _, tier := range tiers {
		ectx := eachContext(ctx, tier, sgs[tier])
		checks := map[string]cty.Value{
			"type":                     cty.StringVal("ingress"),
			"security_group_id":        sgs[tier],
			"source_security_group_id": cty.StringVal("sg-0000000000000000d"),
			"protocol":                 cty.StringVal("tcp"),
			"from_port":                cty.NumberIntVal(9469),
			"to_port":                  cty.NumberIntVal(9469),
			"description":              cty.StringVal("mailtier exporter scrape from Prometheus (" + tier + ")"),
		}
		for name, want := range checks {
			if got := attr(t, ectx, b.body, name); !got.RawEquals(want) {
				t.Errorf("%s[%q].%s = %#v, want %#v", b.address(), tier, name, got, want)
			}
		}
	}

	sd := m.block(t, "aws_service_discovery_service.smtp_in")
	if got := attr(t, ctx, sd.body, "name"); !got.RawEquals(cty.StringVal("smtp-in")) {
		t.Errorf("Cloud Map service name = %#v", got)
	}
	dns := subBlocks(sd.body, "dns_config")
	if len(dns) != 1 {
		t.Fatalf("%d dns_config blocks", len(dns))
	}
	if got := attr(t, ctx, dns[0].Body, "namespace_id"); !got.RawEquals(cty.StringVal("ns-0000000000000000")) {
		t.Errorf("namespace_id = %#v", got)
	}
	if got := attr(t, ctx, dns[0].Body, "routing_policy"); !got.RawEquals(cty.StringVal("MULTIVALUE")) {
		t.Errorf("routing_policy = %#v", got)
	}
	records := subBlocks(dns[0].Body, "dns_records")
	if len(records) != 1 || !attr(t, ctx, records[0].Body, "type").RawEquals(cty.StringVal("A")) || !attr(t, ctx, records[0].Body, "ttl").RawEquals(cty.NumberIntVal(10)) {
		t.Errorf("dns_records: want one A record with TTL 10")
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
	m, ctx := monitoringContext(t, true)
	sd := m.block(t, "aws_service_discovery_service.smtp_in")
	if hc := subBlocks(sd.body, "health_check_custom_config"); len(hc) != 0 {
		t.Error("aws_service_discovery_service.smtp_in declares health_check_custom_config (failure_threshold is deprecated)")
	}
	if got := lifecycleIgnores(t, sd); !reflect.DeepEqual(got, []string{"health_check_custom_config"}) {
		t.Errorf("ignore_changes = %v, want [health_check_custom_config]", got)
	}

	br := m.block(t, "terraform_data.smtp_in_cloud_map_lifecycle")
	if refs := resourceReferences(br.body.Attributes["triggers_replace"].Expr); !reflect.DeepEqual(refs, []string{"aws_service_discovery_service.smtp_in[0].id"}) {
		t.Errorf("triggers_replace follows %v, want the Cloud Map service", refs)
	}
	input := attr(t, ctx, br.body, "input").AsValueMap()
	for name, want := range map[string]cty.Value{
		"cluster_name":     cty.StringVal(upstream.ClusterName),
		"ecs_service_name": cty.StringVal("cabal-smtp-in"),
		"region":           cty.StringVal("us-east-1"),
		"desired_count":    cty.NumberIntVal(1),
		"registered":       cty.True,
	} {
		if got := input[name]; !got.RawEquals(want) {
			t.Errorf("bracket input %s = %#v, want %#v", name, got, want)
		}
	}
	var destroy, create string
	for _, p := range subBlocks(br.body, "provisioner") {
		rng := p.Body.Attributes["command"].SrcRange
		file, err := os.ReadFile(rng.Filename)
		if err != nil {
			t.Fatal(err)
		}
		src := string(rng.SliceBytes(file))
		if _, ok := p.Body.Attributes["when"]; ok {
			destroy = src
		} else {
			create = src
		}
	}
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

func lifecycleIgnores(t *testing.T, b *tfBlock) []string {
	t.Helper()
	for _, lc := range subBlocks(b.body, "lifecycle") {
		if a, ok := lc.Body.Attributes["ignore_changes"]; ok {
			return references(a.Expr)
		}
	}
	return nil
}

// The alert_sink function, its parameters, policy and table are tested in
// alert_sink_test.go.

// resourceReferences is references without the var and local ones (those
// are evaluated instead).
func resourceReferences(expr hcl.Expression) []string {
	var out []string
	for _, r := range references(expr) {
		if !strings.HasPrefix(r, "var.") && !strings.HasPrefix(r, "local.") {
			out = append(out, r)
		}
	}
	return out
}

func names(containers []map[string]any) []any {
	var out []any
	for _, c := range containers {
		out = append(out, c["name"])
	}
	return out
}
