package terraform_test

import "encoding/json"
import "flag"
import "path/filepath"
import "reflect"
import "slices"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/collectors"
import "github.com/cabalmail/mailtier/collectors/registry"

var update = flag.Bool("update", false, "rewrite testdata/sidecar.json and testdata/monitoring.json from terraform's rendering")

// sidecarScenarios are the inputs the sidecar module is rendered with by
// terraform itself; each has its golden rendering in testdata/sidecar.json.
var sidecarScenarios = map[string]map[string]any{
	// Monitoring on, as cabal-infra's ECS module calls it, with the
	// probe's sender in a domain OpenDKIM signs.
	"default": {
		"monitoring": true, "image": testImage, "aws_region": "us-east-1",
		"opendkim_probe_from": "dkim-probe@example.test",
	},
	// Only the required variable: monitoring and image take their defaults.
	"monitoring-off": {"aws_region": "us-east-1"},
	// ECS Exec into any container: no shared PID namespace.
	"no-shared-pid": {
		"monitoring": true, "image": testImage, "aws_region": "us-east-1",
		"opendkim_probe_from": "dkim-probe@example.test", "share_pid_namespace": false,
	},
	"fail2ban": {
		"monitoring": true, "image": testImage, "aws_region": "us-east-1",
		"opendkim_probe_from": "dkim-probe@example.test", "fail2ban_collector": true,
	},
	"extra-args": {
		"monitoring": true, "image": testImage, "aws_region": "us-east-1",
		"opendkim_probe_from": "dkim-probe@example.test",
		"extra_args":          map[string][]string{"imap": {"--collector.dovecot.known-bot-networks=/etc/mailtier/bots.txt"}},
	},
}

// sidecarRoot is the root module the sidecar is rendered in: the module
// called with the scenario's inputs (main.tf.json), every output of it,
// and each tier's container_definitions as the ECS module writes it
// (docs/adopting.md): the mail container first, the sidecars after.
const sidecarRoot = `
output "sidecar" {
  value = module.sidecar
}

output "task_definitions" {
  value = {
    for tier in ["imap", "smtp-in", "smtp-out"] : tier => jsonencode(concat([{
      name        = tier
      essential   = true
      mountPoints = concat([{ sourceVolume = "own", containerPath = "/own" }], module.sidecar.mail_container_mount_points[tier])
    }], module.sidecar.container_definitions[tier]))
  }
}
`

// renderSidecar plans a root module that calls the sidecar module with
// inputs and returns its outputs as terraform computes them (the module
// is provider-free, so planning needs no network), or terraform's error.
func renderSidecar(t *testing.T, tf string, inputs map[string]any) (any, []tfDiagnostic) {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, sidecarDir, filepath.Join(dir, "sidecar"))
	call := map[string]any{"source": "./sidecar"}
	for k, v := range inputs {
		call[k] = v
	}
	main, err := json.Marshal(map[string]any{"module": map[string]any{"sidecar": call}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "main.tf.json"), string(main))
	writeFile(t, filepath.Join(dir, "outputs.tf"), sidecarRoot)
	plan, diags := planRoot(t, tf, dir)
	if plan == nil {
		return nil, diags
	}
	// The module must stay provider-free: cabal-infra's ECS module calls
	// it, and it is what these tests can plan offline.
	plan.checkProviderFree(t, "sidecar", plan.Configuration.RootModule.ModuleCalls["sidecar"].Module)
	return plan.outputs(), nil
}

// sidecarRendering is a golden file: the module's outputs and the task
// definitions' container_definitions JSON, per tier.
type sidecarRendering struct {
	Sidecar struct {
		ContainerDefinitions     map[string][]ecsContainer  `json:"container_definitions"`
		MailContainerMountPoints map[string][]ecsMountPoint `json:"mail_container_mount_points"`
		TaskVolumes              map[string][]taskVolume    `json:"task_volumes"`
		PidMode                  *string                    `json:"pid_mode"`
		RevisionMarkerSuffix     string                     `json:"revision_marker_suffix"`
		ExporterPort             int                        `json:"exporter_port"`
		Collectors               map[string][]string        `json:"collectors"`
	} `json:"sidecar"`
	TaskDefinitions map[string]string `json:"task_definitions"`
}

// TestSidecarRejectsBadInputs: each input terraform refuses, with its
// error: an image not pinned by digest, a probe sender that is not an
// address or a GOMAXPROCS that is not a whole number (variable
// validations), monitoring without an image (the
// output's precondition); and values next to them that it accepts.
func TestSidecarRejectsBadInputs(t *testing.T) {
	const (
		precondition = "Module output value precondition failed"
		imageMessage = "The image must be empty or pinned by digest: REPOSITORY@sha256:<64 lowercase hex digits>."
		probeMessage = "opendkim_probe_from must be an address such as dkim-probe@example.com, or empty."
		noImage      = "monitoring is true but no exporter image is set: set image to the digest-pinned exporter image."
		procsMessage = "go_max_procs must be a whole number, at least 1."
	)
	cases := []inputCase{
		{"image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/cabal-mailtier-exporter:1.0.0", invalidVariable, imageMessage},
		{"image", "cabal-mailtier-exporter@sha256:0A0A", invalidVariable, imageMessage},
		{"image", "cabal-mailtier-exporter@sha256:" + strings.Repeat("0A", 32), invalidVariable, imageMessage},
		{"image", "cabal mailtier-exporter@sha256:" + strings.Repeat("0a", 32), invalidVariable, imageMessage},
		{"image", "", precondition, noImage},
		{"image", "cabal-mailtier-exporter@sha256:" + strings.Repeat("0a", 32), "", ""},
		{"opendkim_probe_from", "dkim-probe", invalidVariable, probeMessage},
		{"opendkim_probe_from", "dkim-probe@example@test", invalidVariable, probeMessage},
		{"opendkim_probe_from", "dkim probe@example.test", invalidVariable, probeMessage},
		{"opendkim_probe_from", "dkim-probe@example.test", "", ""},
		{"opendkim_probe_from", "", "", ""},
		{"go_max_procs", 0, invalidVariable, procsMessage},
		{"go_max_procs", 1.5, invalidVariable, procsMessage},
		{"go_max_procs", 2, "", ""},
	}
	base := map[string]any{"monitoring": true, "image": testImage, "aws_region": "us-east-1"}
	checkInputs(t, base, cases, renderSidecar, nil)
}

// loadGolden reads a scenario's rendering (fast tier: no terraform).
func loadGolden(t *testing.T, name string) sidecarRendering {
	t.Helper()
	var r sidecarRendering
	decodeGolden(t, "sidecar", name, &r)
	return r
}

// sidecarDefinitions is every tier's sidecar as terraform renders it with
// monitoring on (the default scenario's golden).
func sidecarDefinitions(t *testing.T) map[string]ecsContainer {
	t.Helper()
	out := map[string]ecsContainer{}
	for tier, defs := range loadGolden(t, "default").Sidecar.ContainerDefinitions {
		if len(defs) != 1 {
			t.Fatalf("%s: %d sidecars, want 1", tier, len(defs))
		}
		out[tier] = defs[0]
	}
	return out
}

// The properties the deployment depends on, spelt out against the
// rendering: what the goldens hold is checked, not only that it is stable.
func TestSidecarRendering(t *testing.T) {
	r := loadGolden(t, "default")
	for _, tier := range tiers {
		defs := r.Sidecar.ContainerDefinitions[tier]
		if len(defs) != 1 {
			t.Fatalf("%s: %d sidecars, want 1", tier, len(defs))
		}
		c := defs[0]
		if c.Essential || !c.ReadonlyRootFilesystem || c.User != "65532:12" || c.PortMappings[0].ContainerPort != 9469 || c.Image != testImage {
			t.Errorf("%s: essential=%v readonlyRootFilesystem=%v user=%q port=%d image=%s", tier, c.Essential, c.ReadonlyRootFilesystem, c.User, c.PortMappings[0].ContainerPort, c.Image)
		}
		for _, mp := range c.MountPoints[:2] {
			if !mp.ReadOnly {
				t.Errorf("%s: %s mounted read-write", tier, mp.SourceVolume)
			}
		}
		if !reflect.DeepEqual(c.LinuxParameters.Capabilities.Drop, []string{"ALL"}) || len(c.LinuxParameters.Capabilities.Add) != 0 ||
			!reflect.DeepEqual(c.DockerSecurityOptions, []string{"no-new-privileges"}) {
			t.Errorf("%s: capabilities %+v, security options %v: want drop ALL, add none, no-new-privileges", tier, c.LinuxParameters.Capabilities, c.DockerSecurityOptions)
		}
		if c.LogConfiguration.Options["awslogs-group"] != "/ecs/cabal-"+tier || c.LogConfiguration.Options["awslogs-region"] != "us-east-1" {
			t.Errorf("%s: log configuration %v", tier, c.LogConfiguration.Options)
		}
		if c.DependsOn[0].ContainerName != tier || c.DependsOn[0].Condition != "START" {
			t.Errorf("%s: dependsOn %v", tier, c.DependsOn)
		}
		// The mail container stays first in the task definition.
		var containers []map[string]any
		if err := json.Unmarshal([]byte(r.TaskDefinitions[tier]), &containers); err != nil {
			t.Fatal(err)
		}
		if len(containers) != 2 || containers[0]["name"] != tier || containers[1]["name"] != "mailtier-exporter" ||
			containers[0]["essential"] != true || containers[1]["essential"] != false {
			t.Errorf("%s: containers = %v, want [%s mailtier-exporter], only the first essential", tier, names(containers), tier)
		}
	}
	// Every collector the registry puts on a tier runs there, but the two
	// whose variables (fail2ban_collector, anvil_collector) are false by
	// default.
	wantCollectors := map[string][]string{}
	for _, tier := range collectors.MailTiers {
		wantCollectors[tier] = slices.DeleteFunc(registry.All.OnTier(tier), func(name string) bool {
			return name == "fail2ban" || name == "anvil"
		})
	}
	if !reflect.DeepEqual(r.Sidecar.Collectors, wantCollectors) {
		t.Errorf("collectors = %v, want %v", r.Sidecar.Collectors, wantCollectors)
	}
	logMount := ecsMountPoint{SourceVolume: "mailtier-logs", ContainerPath: "/var/log/mail", ReadOnly: false}
	wantMounts := map[string][]ecsMountPoint{
		"imap":     {logMount, {SourceVolume: "imap-mqueue", ContainerPath: "/var/spool/mqueue", ReadOnly: false}},
		"smtp-in":  {logMount},
		"smtp-out": {logMount},
	}
	if !reflect.DeepEqual(r.Sidecar.MailContainerMountPoints, wantMounts) {
		t.Errorf("mail_container_mount_points = %+v, want %+v", r.Sidecar.MailContainerMountPoints, wantMounts)
	}
	logs := taskVolume{Name: "mailtier-logs", Scope: "task", Driver: "local"}
	state := taskVolume{Name: "mailtier-exporter-state", Scope: "task", Driver: "local"}
	wantVolumes := map[string][]taskVolume{
		"imap":     {logs, state, {Name: "imap-mqueue", Scope: "task", Driver: "local"}},
		"smtp-in":  {logs, state},
		"smtp-out": {logs, state},
	}
	if !reflect.DeepEqual(r.Sidecar.TaskVolumes, wantVolumes) {
		t.Errorf("task_volumes = %+v, want %+v", r.Sidecar.TaskVolumes, wantVolumes)
	}
	if r.Sidecar.PidMode == nil || *r.Sidecar.PidMode != "task" || r.Sidecar.RevisionMarkerSuffix != "+mailtier1" || r.Sidecar.ExporterPort != 9469 {
		t.Errorf("pid_mode %v, revision_marker_suffix %q, exporter_port %d; want task, +mailtier1, 9469", r.Sidecar.PidMode, r.Sidecar.RevisionMarkerSuffix, r.Sidecar.ExporterPort)
	}
}

// With monitoring off the task definitions are byte for byte what they
// were: nothing is replaced while monitoring stays off.
func TestSidecarMonitoringOffChangesNothing(t *testing.T) {
	r := loadGolden(t, "monitoring-off")
	for _, tier := range tiers {
		if len(r.Sidecar.ContainerDefinitions[tier]) != 0 || len(r.Sidecar.MailContainerMountPoints[tier]) != 0 ||
			len(r.Sidecar.TaskVolumes[tier]) != 0 || len(r.Sidecar.Collectors[tier]) != 0 {
			t.Errorf("%s: monitoring off still adds %+v", tier, r.Sidecar)
		}
		want := `[{"essential":true,"mountPoints":[{"containerPath":"/own","sourceVolume":"own"}],"name":"` + tier + `"}]`
		if r.TaskDefinitions[tier] != want {
			t.Errorf("%s: container_definitions = %s, want %s", tier, r.TaskDefinitions[tier], want)
		}
	}
	if r.Sidecar.PidMode != nil || r.Sidecar.RevisionMarkerSuffix != "" {
		t.Errorf("pid_mode %v, revision_marker_suffix %q; want null and empty", r.Sidecar.PidMode, r.Sidecar.RevisionMarkerSuffix)
	}
}

// The variations change what they say and nothing else.
func TestSidecarVariations(t *testing.T) {
	base := sidecarDefinitions(t)

	noPID := loadGolden(t, "no-shared-pid")
	if noPID.Sidecar.PidMode != nil {
		t.Errorf("no-shared-pid: pid_mode = %v, want null", *noPID.Sidecar.PidMode)
	}
	for _, tier := range tiers {
		var want []string
		for _, arg := range base[tier].Command {
			switch {
			case strings.HasPrefix(arg, "--collector.process.names="):
			case arg == "--collector.process":
				want = append(want, "--no-collector.process")
			default:
				want = append(want, arg)
			}
		}
		if got := noPID.Sidecar.ContainerDefinitions[tier][0].Command; !slices.Equal(got, want) {
			t.Errorf("no-shared-pid: %s command = %v, want %v", tier, got, want)
		}
		if slices.Contains(noPID.Sidecar.Collectors[tier], "process") {
			t.Errorf("no-shared-pid: %s still runs the process collector", tier)
		}
	}

	f2b := loadGolden(t, "fail2ban")
	for _, tier := range tiers {
		cmd := f2b.Sidecar.ContainerDefinitions[tier][0].Command
		want := tier != "smtp-out"
		for flag, present := range map[string]bool{
			"--collector.fail2ban":                                     want,
			"--no-collector.fail2ban":                                  !want,
			"--tail.path=/var/log/mail/fail2ban.log":                   want,
			"--collector.fail2ban.log-path=/var/log/mail/fail2ban.log": want,
		} {
			if slices.Contains(cmd, flag) != present {
				t.Errorf("fail2ban: %s: %s present = %v, want %v", tier, flag, !present, present)
			}
		}
	}

	extra := loadGolden(t, "extra-args").Sidecar.ContainerDefinitions
	imap := extra["imap"][0].Command
	if !slices.Equal(imap, append(slices.Clone(base["imap"].Command), "--collector.dovecot.known-bot-networks=/etc/mailtier/bots.txt")) {
		t.Errorf("extra-args: imap command = %v, want the default one and the extra flag last", imap)
	}
	if !slices.Equal(extra["smtp-in"][0].Command, base["smtp-in"].Command) {
		t.Errorf("extra-args: smtp-in command changed: %v", extra["smtp-in"][0].Command)
	}
}
