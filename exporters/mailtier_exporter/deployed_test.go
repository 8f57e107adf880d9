package main

import "encoding/json"
import "slices"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"

// TestSoakRunsAsDeployed holds the soak benchmarks' runtime environment to
// the sidecar's task definition as Terraform plans it with its defaults
// (the golden plan of terraform/sidecar_test.go): the CPU they report is
// the deployed exporter's.
func TestSoakRunsAsDeployed(t *testing.T) {
	var plan struct {
		Sidecar struct {
			ContainerDefinitions map[string][]struct {
				Environment []struct{ Name, Value string }
			} `json:"container_definitions"`
		}
	}
	if err := json.Unmarshal(testenv.SidecarRendering(t), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Sidecar.ContainerDefinitions) == 0 {
		t.Fatal("no container definitions in the plan")
	}
	for tier, defs := range plan.Sidecar.ContainerDefinitions {
		var env []string
		for _, d := range defs {
			for _, e := range d.Environment {
				env = append(env, e.Name+"="+e.Value)
			}
		}
		if !slices.Equal(env, deployedEnv) {
			t.Errorf("%s: the sidecar's environment is %q, the soak benchmarks run with %q", tier, env, deployedEnv)
		}
	}
}
