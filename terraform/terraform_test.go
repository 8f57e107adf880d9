package terraform_test

import "bytes"
import "encoding/json"
import "fmt"
import "path/filepath"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"

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
	Command                []string            `json:"command"`
	CPU                    int                 `json:"cpu"`
	DependsOn              []ecsDependency     `json:"dependsOn"`
	DockerSecurityOptions  []string            `json:"dockerSecurityOptions"`
	Environment            []ecsKeyValue       `json:"environment"`
	Essential              bool                `json:"essential"`
	HealthCheck            ecsHealthCheck      `json:"healthCheck"`
	Image                  string              `json:"image"`
	LinuxParameters        ecsLinuxParameters  `json:"linuxParameters"`
	LogConfiguration       ecsLogConfiguration `json:"logConfiguration"`
	Memory                 int                 `json:"memory"`
	MemoryReservation      int                 `json:"memoryReservation"`
	MountPoints            []ecsMountPoint     `json:"mountPoints"`
	Name                   string              `json:"name"`
	PortMappings           []ecsPortMapping    `json:"portMappings"`
	ReadonlyRootFilesystem bool                `json:"readonlyRootFilesystem"`
	RestartPolicy          ecsRestartPolicy    `json:"restartPolicy"`
	StopTimeout            int                 `json:"stopTimeout"`
	User                   string              `json:"user"`
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

// tfPlan is what the tests read of terraform show -json PLAN.
type tfPlan struct {
	PlannedValues struct {
		Outputs map[string]struct {
			Value json.RawMessage `json:"value"`
		} `json:"outputs"`
	} `json:"planned_values"`
	Configuration struct {
		ProviderConfig map[string]any `json:"provider_config"`
		RootModule     tfModuleConfig `json:"root_module"`
	} `json:"configuration"`
}

// tfModuleConfig is a module of the plan's configuration.
type tfModuleConfig struct {
	Resources   []any `json:"resources"`
	ModuleCalls map[string]struct {
		Module tfModuleConfig `json:"module"`
	} `json:"module_calls"`
}

// outputs are the planned values of the root module's outputs.
func (p *tfPlan) outputs() map[string]json.RawMessage {
	values := map[string]json.RawMessage{}
	for name, o := range p.PlannedValues.Outputs {
		values[name] = o.Value
	}
	return values
}

// checkProviderFree fails the test if the plan configures a provider or
// mod, the plan's configuration of the module called name, has resources
// or module calls.
func (p *tfPlan) checkProviderFree(t *testing.T, name string, mod tfModuleConfig) {
	t.Helper()
	if len(p.Configuration.ProviderConfig) != 0 || len(mod.Resources) != 0 || len(mod.ModuleCalls) != 0 {
		t.Errorf("the %s module has providers %v, resources %v, module calls %v: it must stay provider-free",
			name, p.Configuration.ProviderConfig, mod.Resources, mod.ModuleCalls)
	}
}

// tfDiagnostic is an error terraform plan -json reports.
type tfDiagnostic struct {
	Summary string `json:"summary"`
	Detail  string `json:"detail"`
	Snippet struct {
		Context string `json:"context"`
		Values  []struct {
			Traversal string `json:"traversal"`
			Statement string `json:"statement"`
		} `json:"values"`
	} `json:"snippet"`
}

func (d tfDiagnostic) String() string { return d.Summary + ": " + d.Detail }

// planRoot runs terraform init, plan -out and show -json in the root
// module dir. A plan that fails returns terraform's error diagnostics and
// a nil plan.
func planRoot(t *testing.T, tf, dir string) (*tfPlan, []tfDiagnostic) {
	t.Helper()
	if out, err := runTerraform(t, tf, dir, "init", "-no-color"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	out, err := runTerraform(t, tf, dir, "plan", "-json", "-lock=false", "-out=plan")
	if err != nil {
		var diags []tfDiagnostic
		for _, line := range strings.Split(out, "\n") {
			var msg struct {
				Type       string       `json:"type"`
				Level      string       `json:"@level"`
				Diagnostic tfDiagnostic `json:"diagnostic"`
			}
			if json.Unmarshal([]byte(line), &msg) == nil && msg.Type == "diagnostic" && msg.Level == "error" {
				diags = append(diags, msg.Diagnostic)
			}
		}
		if len(diags) == 0 {
			t.Fatalf("terraform plan: %v, and no error diagnostic:\n%s", err, out)
		}
		return nil, diags
	}
	out, err = runTerraform(t, tf, dir, "show", "-no-color", "-json", "plan")
	if err != nil {
		t.Fatalf("terraform show: %v\n%s", err, out)
	}
	var plan tfPlan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("terraform show -json: %v", err)
	}
	return &plan, nil
}

// renderFunc plans a root module that calls one of the modules with
// inputs, and returns what the module's golden files hold, or terraform's
// errors.
type renderFunc func(t *testing.T, tf string, inputs map[string]any) (any, []tfDiagnostic)

// goldenFile is the golden file of a module: every scenario's rendering,
// by the scenario's name. One file a module, so that a change every
// scenario shares (a collector added to a tier) is one file's diff.
func goldenFile(module string) string {
	return filepath.Join("testdata", module+".json")
}

// TestGoldens renders every scenario of each module with terraform and
// compares the result with its entry in testdata/<module>.json (-update
// rewrites the file): the sidecar module's outputs, and the monitoring
// module's settings.
func TestGoldens(t *testing.T) {
	tf := terraformBinary(t)
	for module, m := range map[string]struct {
		scenarios map[string]map[string]any
		render    renderFunc
	}{
		"sidecar":    {sidecarScenarios, renderSidecar},
		"monitoring": {monitoringScenarios, planMonitoring},
	} {
		rendered := map[string]any{}
		for name, inputs := range m.scenarios {
			t.Run(module+"/"+name, func(t *testing.T) {
				v, diags := m.render(t, tf, inputs)
				if diags != nil {
					t.Fatalf("terraform plan: %v", diags)
				}
				rendered[name] = v
				if !*update {
					want := indentJSON(t, json.RawMessage(goldenScenario(t, module, name)))
					if got := indentJSON(t, v); !bytes.Equal(got, want) {
						t.Errorf("terraform renders %s differently from %s (go test ./terraform/ -update rewrites it):\n%s", name, goldenFile(module), got)
					}
				}
			})
		}
		if *update && len(rendered) == len(m.scenarios) {
			writeFile(t, goldenFile(module), string(indentJSON(t, rendered)))
		}
	}
}

// invalidVariable is the summary of terraform's error for a value a
// variable's validation refuses.
const invalidVariable = "Invalid value for variable"

// inputCase is one input of a module and what terraform answers to it:
// an error with summary and message, or none when summary is "".
type inputCase struct {
	variable         string
	value            any
	summary, message string
}

// checkInputs renders the module with base and each case's input set on
// it, and checks that terraform refuses the input with exactly the case's
// error, or accepts it. refused, if not nil, checks more of the error.
func checkInputs(t *testing.T, base map[string]any, cases []inputCase, render renderFunc, refused func(t *testing.T, c inputCase, d tfDiagnostic)) {
	tf := terraformBinary(t)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s=%v", c.variable, c.value), func(t *testing.T) {
			_, diags := render(t, tf, with(base, c.variable, c.value))
			if c.summary == "" {
				if diags != nil {
					t.Fatalf("refused: %v", diags)
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("terraform reports %d errors, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			message, _, _ := strings.Cut(d.Detail, "\n\n")
			if d.Summary != c.summary || message != c.message {
				t.Errorf("terraform says %q: %q, want %q: %q", d.Summary, message, c.summary, c.message)
			}
			if refused != nil {
				refused(t, c, d)
			}
		})
	}
}

// with returns a copy of inputs with name set to value.
func with(inputs map[string]any, name string, value any) map[string]any {
	out := map[string]any{name: value}
	for k, v := range inputs {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// indentJSON renders v as the golden files hold it.
func indentJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	return indented.Bytes()
}

// readTerraformFile returns the content of the file at path, relative to
// terraform/.
func readTerraformFile(t *testing.T, path string) string {
	t.Helper()
	return testenv.ReadRepoFile(t, filepath.Join("terraform", path))
}

// goldenScenario returns a scenario's rendering from its module's golden
// file.
func goldenScenario(t *testing.T, module, scenario string) []byte {
	t.Helper()
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(readTerraformFile(t, goldenFile(module))), &all); err != nil {
		t.Fatalf("%s: %v (go test ./terraform/ -update writes it)", goldenFile(module), err)
	}
	raw, ok := all[scenario]
	if !ok {
		t.Fatalf("%s holds no scenario %q (go test ./terraform/ -update writes it)", goldenFile(module), scenario)
	}
	return raw
}

// decodeGolden decodes a scenario's rendering into out, refusing a field
// out does not have.
func decodeGolden(t *testing.T, module, scenario string, out any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(goldenScenario(t, module, scenario)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s, %s: %v", goldenFile(module), scenario, err)
	}
}

func names(containers []map[string]any) []any {
	var out []any
	for _, c := range containers {
		out = append(out, c["name"])
	}
	return out
}
