package terraform_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
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

func sidecarInputs(extra map[string]cty.Value) map[string]cty.Value {
	in := map[string]cty.Value{
		"monitoring": cty.True,
		"image":      cty.StringVal(testImage),
		"aws_region": cty.StringVal("us-east-1"),
		// The probe's sender, in a domain OpenDKIM signs.
		"opendkim_probe_from": cty.StringVal("dkim-probe@example.test"),
	}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

func sidecarContext(t *testing.T, inputs map[string]cty.Value) (*tfModule, *hcl.EvalContext) {
	t.Helper()
	m := loadModule(t, sidecarDir)
	if err := m.validate(inputs); err != nil {
		t.Fatal(err)
	}
	ctx, err := m.context(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return m, ctx
}

func mustOutput(t *testing.T, m *tfModule, ctx *hcl.EvalContext, name string) cty.Value {
	t.Helper()
	val, err := m.output(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return val
}

func decodeOutput(t *testing.T, m *tfModule, ctx *hcl.EvalContext, name string, out any) {
	t.Helper()
	if err := decodeStrict(mustOutput(t, m, ctx, name), out); err != nil {
		t.Fatalf("output %s: %v", name, err)
	}
}

// TestTerraformFormatting checks that every .tf file parses and is already
// in canonical form: byte-identical to hclwrite.Format of itself, the
// formatter terraform fmt is built on.
func TestTerraformFormatting(t *testing.T) {
	paths := tfFiles(t, ".")
	if len(paths) == 0 {
		t.Fatal("no .tf files under terraform/")
	}
	for _, path := range paths {
		m := loadModule(t, dirOf(path))
		for _, f := range m.files {
			if f.path != path {
				continue
			}
			if got := hclwrite.Format(f.src); !bytes.Equal(got, f.src) {
				t.Errorf("%s is not formatted (run terraform fmt)", path)
			}
		}
	}
}

func dirOf(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[:i]
	}
	return "."
}

func expectedSidecar(tier string) ecsContainer {
	command := []string{
		"--web.listen-address=:9469",
		"--log.level=info",
		"--log.format=logfmt",
		"--tail.path=/var/log/mail/maillog",
		"--tail.positions=/var/lib/mailtier_exporter/positions",
		"--collector.mqueue.path=/var/spool/mqueue",
		"--collector.sendmail.max-message-size=52428800",
	}
	mqueueVolume := map[string]string{"imap": "imap-mqueue", "smtp-in": "smtp-in-queue", "smtp-out": "smtp-queue"}[tier]
	switch tier {
	case "imap":
		command = append(command,
			"--collector.dovecot.stats-url=http://127.0.0.1:9900/metrics",
			"--collector.process.names=dovecot,sendmail/sm-mta",
			"--collector.sendmail",
			"--collector.mqueue",
			"--collector.dovecot",
			"--no-collector.fail2ban",
			"--no-collector.opendkim",
			"--collector.process",
		)
	case "smtp-in":
		command = append(command,
			"--collector.process.names=sendmail/sm-mta,opendkim",
			"--collector.sendmail",
			"--collector.mqueue",
			"--no-collector.dovecot",
			"--no-collector.fail2ban",
			"--collector.opendkim",
			"--collector.process",
		)
	case "smtp-out":
		command = append(command,
			"--collector.dovecot.stats-url=http://127.0.0.1:9900/metrics",
			"--collector.opendkim.probe.address=inet:8891@127.0.0.1",
			"--collector.opendkim.probe.interval=60s",
			"--collector.opendkim.probe.from=dkim-probe@example.test",
			"--collector.process.names=dovecot,sendmail/sm-mta,opendkim",
			"--collector.sendmail",
			"--collector.mqueue",
			"--collector.dovecot",
			"--no-collector.fail2ban",
			"--collector.opendkim",
			"--collector.process",
		)
	}
	c := ecsContainer{
		Name:                   "mailtier-exporter",
		Image:                  testImage,
		Essential:              false,
		CPU:                    32,
		Memory:                 128,
		MemoryReservation:      32,
		User:                   "65532:12",
		ReadonlyRootFilesystem: true,
		Command:                command,
		Environment:            []ecsKeyValue{{Name: "GOMEMLIMIT", Value: "96MiB"}},
		PortMappings:           []ecsPortMapping{{Name: "metrics", ContainerPort: 9469, HostPort: 9469, Protocol: "tcp"}},
		MountPoints: []ecsMountPoint{
			{SourceVolume: "mailtier-logs", ContainerPath: "/var/log/mail", ReadOnly: true},
			{SourceVolume: mqueueVolume, ContainerPath: "/var/spool/mqueue", ReadOnly: true},
			{SourceVolume: "mailtier-exporter-state", ContainerPath: "/var/lib/mailtier_exporter", ReadOnly: false},
		},
		HealthCheck: ecsHealthCheck{
			Command:  []string{"CMD", "/healthcheck", "http://127.0.0.1:9469/"},
			Interval: 30, Timeout: 5, Retries: 3, StartPeriod: 30,
		},
		DependsOn:             []ecsDependency{{ContainerName: tier, Condition: "START"}},
		RestartPolicy:         ecsRestartPolicy{Enabled: true, RestartAttemptPeriod: 60},
		DockerSecurityOptions: []string{"no-new-privileges"},
		StopTimeout:           10,
		LogConfiguration: ecsLogConfiguration{
			LogDriver: "awslogs",
			Options: map[string]string{
				"awslogs-group":         "/ecs/cabal-" + tier,
				"awslogs-region":        "us-east-1",
				"awslogs-stream-prefix": "mailtier-exporter",
				"mode":                  "non-blocking",
			},
		},
	}
	c.LinuxParameters.Capabilities.Add = []string{}
	c.LinuxParameters.Capabilities.Drop = []string{"ALL"}
	return c
}

func TestSidecarPerTier(t *testing.T) {
	m, ctx := sidecarContext(t, sidecarInputs(nil))

	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	if len(defs) != len(tiers) {
		t.Fatalf("container_definitions has tiers %v, want %v", keys(defs), tiers)
	}
	for _, tier := range tiers {
		got := defs[tier]
		if len(got) != 1 {
			t.Fatalf("%s: %d sidecars, want 1", tier, len(got))
		}
		want := expectedSidecar(tier)
		if !reflect.DeepEqual(got[0], want) {
			gj, _ := json.MarshalIndent(got[0], "", "  ")
			wj, _ := json.MarshalIndent(want, "", "  ")
			t.Errorf("%s sidecar:\n got %s\nwant %s", tier, gj, wj)
		}
		// The properties the deployment depends on, spelt out.
		c := got[0]
		if c.Essential || !c.ReadonlyRootFilesystem || c.User != "65532:12" || c.PortMappings[0].ContainerPort != 9469 {
			t.Errorf("%s: essential=%v readonlyRootFilesystem=%v user=%q port=%d", tier, c.Essential, c.ReadonlyRootFilesystem, c.User, c.PortMappings[0].ContainerPort)
		}
		for _, mp := range c.MountPoints[:2] {
			if !mp.ReadOnly {
				t.Errorf("%s: %s mounted read-write", tier, mp.SourceVolume)
			}
		}
	}

	var collectors map[string][]string
	decodeOutput(t, m, ctx, "collectors", &collectors)
	wantCollectors := map[string][]string{
		"imap":     {"sendmail", "mqueue", "dovecot", "process"},
		"smtp-in":  {"sendmail", "mqueue", "opendkim", "process"},
		"smtp-out": {"sendmail", "mqueue", "dovecot", "opendkim", "process"},
	}
	if !reflect.DeepEqual(collectors, wantCollectors) {
		t.Errorf("collectors = %v, want %v", collectors, wantCollectors)
	}

	var mailMounts map[string][]ecsMountPoint
	decodeOutput(t, m, ctx, "mail_container_mount_points", &mailMounts)
	logMount := ecsMountPoint{SourceVolume: "mailtier-logs", ContainerPath: "/var/log/mail", ReadOnly: false}
	wantMounts := map[string][]ecsMountPoint{
		"imap":     {logMount, {SourceVolume: "imap-mqueue", ContainerPath: "/var/spool/mqueue", ReadOnly: false}},
		"smtp-in":  {logMount},
		"smtp-out": {logMount},
	}
	if !reflect.DeepEqual(mailMounts, wantMounts) {
		t.Errorf("mail_container_mount_points = %+v, want %+v", mailMounts, wantMounts)
	}

	var volumes map[string][]taskVolume
	decodeOutput(t, m, ctx, "task_volumes", &volumes)
	logs := taskVolume{Name: "mailtier-logs", Scope: "task", Driver: "local"}
	state := taskVolume{Name: "mailtier-exporter-state", Scope: "task", Driver: "local"}
	wantVolumes := map[string][]taskVolume{
		"imap":     {logs, state, {Name: "imap-mqueue", Scope: "task", Driver: "local"}},
		"smtp-in":  {logs, state},
		"smtp-out": {logs, state},
	}
	if !reflect.DeepEqual(volumes, wantVolumes) {
		t.Errorf("task_volumes = %+v, want %+v", volumes, wantVolumes)
	}

	if got := mustOutput(t, m, ctx, "pid_mode"); !got.RawEquals(cty.StringVal("task")) {
		t.Errorf("pid_mode = %#v, want \"task\"", got)
	}
	if got := mustOutput(t, m, ctx, "revision_marker_suffix"); !got.RawEquals(cty.StringVal("+mailtier1")) {
		t.Errorf("revision_marker_suffix = %#v, want \"+mailtier1\"", got)
	}
	if got := mustOutput(t, m, ctx, "exporter_port"); !got.RawEquals(cty.NumberIntVal(9469)) {
		t.Errorf("exporter_port = %#v, want 9469", got)
	}
}

// taskDefinitionJSON evaluates container_definitions the way
// terraform/README.md tells the caller to write it: the mail container
// first, the module's list appended after it.
func taskDefinitionJSON(t *testing.T, m *tfModule, ctx *hcl.EvalContext, tier string) []map[string]any {
	t.Helper()
	outputs := map[string]cty.Value{}
	for _, name := range []string{"container_definitions", "mail_container_mount_points"} {
		outputs[name] = mustOutput(t, m, ctx, name)
	}
	src := `jsonencode(concat([{
  name        = tier
  essential   = true
  mountPoints = concat([{ sourceVolume = "own", containerPath = "/own" }], module.mail_container_mount_points[tier])
}], module.container_definitions[tier]))`
	expr, diags := hclsyntax.ParseExpression([]byte(src), "README", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	val, diags := expr.Value(&hcl.EvalContext{
		Variables: map[string]cty.Value{"module": cty.ObjectVal(outputs), "tier": cty.StringVal(tier)},
		Functions: tfFunctions,
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var containers []map[string]any
	if err := json.Unmarshal([]byte(val.AsString()), &containers); err != nil {
		t.Fatal(err)
	}
	return containers
}

func TestSidecarKeepsMailContainerFirst(t *testing.T) {
	m, ctx := sidecarContext(t, sidecarInputs(nil))
	for _, tier := range tiers {
		containers := taskDefinitionJSON(t, m, ctx, tier)
		if len(containers) != 2 || containers[0]["name"] != tier || containers[1]["name"] != "mailtier-exporter" {
			t.Errorf("%s: containers = %v, want [%s mailtier-exporter]", tier, names(containers), tier)
		}
		if containers[0]["essential"] != true || containers[1]["essential"] != false {
			t.Errorf("%s: essential = %v, %v", tier, containers[0]["essential"], containers[1]["essential"])
		}
	}
}

func TestSidecarMonitoringOff(t *testing.T) {
	// Only the required variable: monitoring and image take their defaults.
	inputs := map[string]cty.Value{"aws_region": cty.StringVal("us-east-1")}
	m, ctx := sidecarContext(t, inputs)

	emptyPerTier := `{"imap":[],"smtp-in":[],"smtp-out":[]}`
	for _, name := range []string{"container_definitions", "mail_container_mount_points", "task_volumes", "collectors"} {
		raw, err := json.Marshal(jsonOf(t, mustOutput(t, m, ctx, name)))
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != emptyPerTier {
			t.Errorf("%s = %s, want %s", name, raw, emptyPerTier)
		}
	}
	if got := mustOutput(t, m, ctx, "pid_mode"); !got.IsNull() {
		t.Errorf("pid_mode = %#v, want null", got)
	}
	if got := mustOutput(t, m, ctx, "revision_marker_suffix"); !got.RawEquals(cty.StringVal("")) {
		t.Errorf("revision_marker_suffix = %#v, want \"\"", got)
	}
	// The task definition the caller renders is exactly the one it had
	// before: nothing is replaced while monitoring stays off.
	for _, tier := range tiers {
		raw, _ := json.Marshal(taskDefinitionJSON(t, m, ctx, tier))
		want := `[{"essential":true,"mountPoints":[{"containerPath":"/own","sourceVolume":"own"}],"name":"` + tier + `"}]`
		if string(raw) != want {
			t.Errorf("%s: container_definitions = %s, want %s", tier, raw, want)
		}
	}
}

// Without the shared PID namespace (ECS Exec into any container) the
// process collector is off and nothing else changes.
func TestSidecarWithoutSharedPIDNamespace(t *testing.T) {
	m, ctx := sidecarContext(t, sidecarInputs(map[string]cty.Value{"share_pid_namespace": cty.False}))
	if got := mustOutput(t, m, ctx, "pid_mode"); !got.IsNull() {
		t.Errorf("pid_mode = %#v, want null", got)
	}
	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	for _, tier := range tiers {
		want := expectedSidecar(tier)
		var cmd []string
		for _, arg := range want.Command {
			switch {
			case strings.HasPrefix(arg, "--collector.process.names="):
			case arg == "--collector.process":
				cmd = append(cmd, "--no-collector.process")
			default:
				cmd = append(cmd, arg)
			}
		}
		want.Command = cmd
		if !reflect.DeepEqual(defs[tier][0], want) {
			t.Errorf("%s command = %v, want %v", tier, defs[tier][0].Command, want.Command)
		}
	}
	var collectors map[string][]string
	decodeOutput(t, m, ctx, "collectors", &collectors)
	for _, tier := range tiers {
		if contains(collectors[tier], "process") {
			t.Errorf("%s still runs the process collector", tier)
		}
	}
}

func TestSidecarFail2banCollector(t *testing.T) {
	m, ctx := sidecarContext(t, sidecarInputs(map[string]cty.Value{"fail2ban_collector": cty.True}))
	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	for _, tier := range tiers {
		cmd := strings.Join(defs[tier][0].Command, " ")
		want := tier != "smtp-out"
		if got := slices.Contains(defs[tier][0].Command, "--collector.fail2ban"); got != want {
			t.Errorf("%s: --collector.fail2ban present = %v, want %v (%s)", tier, got, want, cmd)
		}
		if got := strings.Contains(cmd, " --no-collector.fail2ban"); got == want {
			t.Errorf("%s: --no-collector.fail2ban present = %v, want %v", tier, got, !want)
		}
		if got := strings.Contains(cmd, "--tail.path=/var/log/mail/fail2ban.log"); got != want {
			t.Errorf("%s: fail2ban.log tailed = %v, want %v (%s)", tier, got, want, cmd)
		}
		if got := strings.Contains(cmd, "--collector.fail2ban.log-path=/var/log/mail/fail2ban.log"); got != want {
			t.Errorf("%s: fail2ban.log replayed for the banned gauge = %v, want %v (%s)", tier, got, want, cmd)
		}
	}
}

func TestSidecarExtraArgs(t *testing.T) {
	extra := cty.MapVal(map[string]cty.Value{
		"imap": cty.ListVal([]cty.Value{cty.StringVal("--collector.dovecot.known-bot-networks=/etc/mailtier/bots.txt")}),
	})
	m, ctx := sidecarContext(t, sidecarInputs(map[string]cty.Value{"extra_args": extra}))
	var defs map[string][]ecsContainer
	decodeOutput(t, m, ctx, "container_definitions", &defs)
	imap := defs["imap"][0].Command
	if imap[len(imap)-1] != "--collector.dovecot.known-bot-networks=/etc/mailtier/bots.txt" {
		t.Errorf("imap command does not end with the extra flag: %v", imap)
	}
	if !reflect.DeepEqual(defs["smtp-in"][0].Command, expectedSidecar("smtp-in").Command) {
		t.Errorf("smtp-in command changed: %v", defs["smtp-in"][0].Command)
	}
}

func TestSidecarImageChecks(t *testing.T) {
	m := loadModule(t, sidecarDir)
	for _, image := range []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/cabal-mailtier-exporter:1.0.0",
		"cabal-mailtier-exporter@sha256:0A0A",
		"cabal-mailtier-exporter@sha256:" + strings.Repeat("0A", 32),
	} {
		if err := m.validate(sidecarInputs(map[string]cty.Value{"image": cty.StringVal(image)})); err == nil {
			t.Errorf("image %q passed validation", image)
		}
	}
	if err := m.validate(sidecarInputs(nil)); err != nil {
		t.Errorf("digest-pinned image rejected: %v", err)
	}
	// monitoring on without an image: the output's precondition stops the plan.
	inputs := map[string]cty.Value{"monitoring": cty.True, "aws_region": cty.StringVal("us-east-1")}
	if err := m.validate(inputs); err != nil {
		t.Fatal(err)
	}
	ctx, err := m.context(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.output(ctx, "container_definitions"); err == nil || !strings.Contains(err.Error(), "no exporter image is set") {
		t.Errorf("container_definitions with monitoring and no image: err = %v", err)
	}
}

func TestSidecarModuleHasNoResources(t *testing.T) {
	m := loadModule(t, sidecarDir)
	if len(m.blocks) != 0 {
		t.Errorf("the sidecar module must stay provider-free; it declares %d resource/data blocks", len(m.blocks))
	}
	for _, f := range m.files {
		for _, blk := range f.body.Blocks {
			if blk.Type == "provider" || blk.Type == "module" {
				t.Errorf("%s: %s block in the sidecar module", f.path, blk.Type)
			}
		}
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
	"aws_vpc_security_group_ingress_rule.exporter":   {"imap", "smtp-in", "smtp-out"},
	"aws_service_discovery_service.smtp_in":          {""},
	"random_password.shared_secret":                  {""},
	"aws_ssm_parameter.shared_secret":                {""},
	"aws_ssm_parameter.transport":                    {"ntfy_publisher_token", "pushover_app_token", "pushover_user_key"},
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
		if n != 0 {
			t.Errorf("%s: %d instances (%v) with monitoring = false", b.address(), n, keys)
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
	octx, err := m.withEmptyBlocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range m.outputs {
		val, err := m.output(octx, name)
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
	b := m.block(t, "aws_vpc_security_group_ingress_rule.exporter")
	sgs := monitoringInputs(true)["tier_security_group_ids"].AsValueMap()
	for _, tier := range tiers {
		ectx := eachContext(ctx, tier, sgs[tier])
		checks := map[string]cty.Value{
			"security_group_id":            sgs[tier],
			"referenced_security_group_id": cty.StringVal("sg-0000000000000000d"),
			"ip_protocol":                  cty.StringVal("tcp"),
			"from_port":                    cty.NumberIntVal(9469),
			"to_port":                      cty.NumberIntVal(9469),
			"description":                  cty.StringVal("mailtier exporter scrape from Prometheus (" + tier + ")"),
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

func lifecycleIgnores(t *testing.T, b *tfBlock) []string {
	t.Helper()
	for _, lc := range subBlocks(b.body, "lifecycle") {
		if a, ok := lc.Body.Attributes["ignore_changes"]; ok {
			return references(a.Expr)
		}
	}
	return nil
}

func TestAlertSinkParameters(t *testing.T) {
	m, ctx := monitoringContext(t, true)

	secret := m.block(t, "aws_ssm_parameter.shared_secret")
	if got := attr(t, ctx, secret.body, "name"); !got.RawEquals(cty.StringVal("/cabal/mailtier/alert_sink_secret")) {
		t.Errorf("shared secret name = %#v", got)
	}
	if got := references(secret.body.Attributes["value"].Expr); !reflect.DeepEqual(got, []string{"random_password.shared_secret[0].result"}) {
		t.Errorf("shared secret value refers to %v", got)
	}

	transport := m.block(t, "aws_ssm_parameter.transport")
	_, keys, err := transport.instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		ectx := eachContext(ctx, key, cty.StringVal("/cabal/mailtier/"+key))
		if got := attr(t, ectx, transport.body, "name"); !got.RawEquals(cty.StringVal("/cabal/mailtier/" + key)) {
			t.Errorf("transport[%q].name = %#v", key, got)
		}
		if got := attr(t, ectx, transport.body, "value"); !got.RawEquals(cty.StringVal("placeholder-set-via-aws-ssm-put-parameter")) {
			t.Errorf("transport[%q].value = %#v", key, got)
		}
	}
	if fe := attr(t, ctx, transport.body, "for_each"); !fe.RawEquals(cty.MapVal(map[string]cty.Value{
		"pushover_user_key":    cty.StringVal("/cabal/mailtier/pushover_user_key"),
		"pushover_app_token":   cty.StringVal("/cabal/mailtier/pushover_app_token"),
		"ntfy_publisher_token": cty.StringVal("/cabal/mailtier/ntfy_publisher_token"),
	})) {
		t.Errorf("transport for_each = %#v", fe)
	}

	for _, b := range []*tfBlock{secret, transport} {
		if got := attr(t, ctx, b.body, "type"); !got.RawEquals(cty.StringVal("SecureString")) {
			t.Errorf("%s type = %#v", b.address(), got)
		}
		if got := attr(t, ctx, b.body, "key_id"); !got.RawEquals(cty.StringVal("alias/aws/ssm")) {
			t.Errorf("%s key_id = %#v", b.address(), got)
		}
		if got := lifecycleIgnores(t, b); !reflect.DeepEqual(got, []string{"value"}) {
			t.Errorf("%s ignore_changes = %v, want [value]", b.address(), got)
		}
	}
}

func TestAlertSinkFunction(t *testing.T) {
	m, ctx := monitoringContext(t, true)
	fn := m.block(t, "aws_lambda_function.alert_sink")
	checks := map[string]cty.Value{
		"function_name":                  cty.StringVal("cabal-mailtier-alert-sink"),
		"runtime":                        cty.StringVal("provided.al2023"),
		"handler":                        cty.StringVal("bootstrap"),
		"architectures":                  cty.TupleVal([]cty.Value{cty.StringVal("arm64")}),
		"s3_bucket":                      cty.StringVal("cabal-lambda-bucket"),
		"s3_key":                         cty.StringVal("lambda/alert_sink.zip"),
		"memory_size":                    cty.NumberIntVal(128),
		"timeout":                        cty.NumberIntVal(10),
		"reserved_concurrent_executions": cty.NumberIntVal(1),
	}
	for name, want := range checks {
		if got := attr(t, ctx, fn.body, name); !got.RawEquals(want) {
			t.Errorf("alert_sink.%s = %#v, want %#v", name, got, want)
		}
	}
	if got := references(fn.body.Attributes["role"].Expr); !reflect.DeepEqual(got, []string{"aws_iam_role.alert_sink[0].arn"}) {
		t.Errorf("role refers to %v", got)
	}

	env := subBlocks(fn.body, "environment")
	if len(env) != 1 {
		t.Fatalf("%d environment blocks", len(env))
	}
	obj, ok := env[0].Body.Attributes["variables"].Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("environment.variables is not an object constructor")
	}
	gotEnv := map[string]string{}
	for _, item := range obj.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if refs := references(item.ValueExpr); len(refs) == 1 && strings.HasPrefix(refs[0], "aws_") {
			gotEnv[k.AsString()] = refs[0]
		} else {
			v, diags := item.ValueExpr.Value(ctx)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			gotEnv[k.AsString()] = v.AsString()
		}
	}
	wantEnv := map[string]string{
		"SHARED_SECRET_PARAM":        "aws_ssm_parameter.shared_secret[0].name",
		"PUSHOVER_USER_KEY_PARAM":    `aws_ssm_parameter.transport["pushover_user_key"].name`,
		"PUSHOVER_APP_TOKEN_PARAM":   `aws_ssm_parameter.transport["pushover_app_token"].name`,
		"NTFY_PUBLISHER_TOKEN_PARAM": `aws_ssm_parameter.transport["ntfy_publisher_token"].name`,
		"NTFY_BASE_URL":              "https://ntfy.example.com",
		"NTFY_TOPIC":                 "alerts",
	}
	if !reflect.DeepEqual(gotEnv, wantEnv) {
		t.Errorf("environment = %v, want %v", gotEnv, wantEnv)
	}
	if got := lifecycleIgnores(t, fn); !reflect.DeepEqual(got, []string{"s3_key", "s3_object_version", "source_code_hash"}) {
		t.Errorf("alert_sink ignore_changes = %v", got)
	}

	url := m.block(t, "aws_lambda_function_url.alert_sink")
	if got := attr(t, ctx, url.body, "authorization_type"); !got.RawEquals(cty.StringVal("NONE")) {
		t.Errorf("function URL authorization_type = %#v", got)
	}
	perms := map[string]map[string]cty.Value{
		"aws_lambda_permission.alert_sink_url": {
			"statement_id":           cty.StringVal("FunctionURLAllowPublicAccess"),
			"action":                 cty.StringVal("lambda:InvokeFunctionUrl"),
			"principal":              cty.StringVal("*"),
			"function_url_auth_type": cty.StringVal("NONE"),
		},
		"aws_lambda_permission.alert_sink_url_invoke": {
			"statement_id":             cty.StringVal("FunctionURLInvokeAllowPublicAccess"),
			"action":                   cty.StringVal("lambda:InvokeFunction"),
			"principal":                cty.StringVal("*"),
			"invoked_via_function_url": cty.True,
		},
	}
	for addr, attrs := range perms {
		b := m.block(t, addr)
		for name, want := range attrs {
			if got := attr(t, ctx, b.body, name); !got.RawEquals(want) {
				t.Errorf("%s.%s = %#v, want %#v", addr, name, got, want)
			}
		}
	}
}

// TestAlertSinkPolicyIsLeastPrivilege checks every statement of the
// function's IAM policy: its actions exactly, and exactly which resources
// (by reference) and conditions it is scoped to.
func TestAlertSinkPolicyIsLeastPrivilege(t *testing.T) {
	m, ctx := monitoringContext(t, true)
	params := []string{"aws_ssm_parameter.shared_secret[0].arn", "aws_ssm_parameter.transport"}
	type statement struct {
		actions    []string
		resources  []string
		conditions map[string][]string
	}
	want := map[string]statement{
		"ReadAlertSinkParameters": {
			actions:   []string{"ssm:GetParameter", "ssm:GetParameters"},
			resources: params,
		},
		"DecryptAlertSinkParameters": {
			actions:   []string{"kms:Decrypt"},
			resources: []string{"data.aws_kms_alias.ssm[0].target_key_arn"},
			conditions: map[string][]string{
				"StringEquals kms:ViaService":                      {"ssm.us-east-1.amazonaws.com"},
				"StringEquals kms:EncryptionContext:PARAMETER_ARN": params,
			},
		},
		"WriteOwnLogs": {
			actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
			resources: []string{"aws_cloudwatch_log_group.alert_sink[0].arn"},
		},
	}
	policy := m.block(t, "data.aws_iam_policy_document.alert_sink")
	got := map[string]statement{}
	for _, st := range subBlocks(policy.body, "statement") {
		sid := attr(t, ctx, st.Body, "sid").AsString()
		if _, ok := st.Body.Attributes["effect"]; ok {
			t.Errorf("%s: effect set explicitly; statements are Allow by default and nothing here may Deny-override", sid)
		}
		var s statement
		for _, v := range attr(t, ctx, st.Body, "actions").AsValueSlice() {
			s.actions = append(s.actions, v.AsString())
		}
		s.resources = references(st.Body.Attributes["resources"].Expr)
		for _, c := range subBlocks(st.Body, "condition") {
			if s.conditions == nil {
				s.conditions = map[string][]string{}
			}
			key := attr(t, ctx, c.Body, "test").AsString() + " " + attr(t, ctx, c.Body, "variable").AsString()
			values := c.Body.Attributes["values"].Expr
			if refs := resourceReferences(values); len(refs) > 0 {
				s.conditions[key] = refs
			} else {
				for _, v := range attr(t, ctx, c.Body, "values").AsValueSlice() {
					s.conditions[key] = append(s.conditions[key], v.AsString())
				}
			}
		}
		got[sid] = s
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policy statements:\n got %+v\nwant %+v", got, want)
	}
	// No wildcard actions or resources anywhere in the module's policies.
	for _, f := range m.files {
		if regexp.MustCompile(`"[a-z0-9]+:\*"|resources\s*=\s*\["\*"\]`).Match(f.src) {
			t.Errorf("%s contains a wildcard action or resource", f.path)
		}
	}
}

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

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
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

func jsonOf(t *testing.T, val cty.Value) any {
	t.Helper()
	var out any
	if err := decodeStrict(val, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
