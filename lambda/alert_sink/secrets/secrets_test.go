package secrets

import "context"
import "errors"
import "maps"
import "slices"
import "strings"
import "testing"

import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/service/ssm"
import "github.com/aws/aws-sdk-go-v2/service/ssm/types"

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var lambdaEnv = map[string]string{
	EnvSharedParam:        "/cabal/alert_sink_secret",
	EnvPushoverUserParam:  "/cabal/pushover_user_key",
	EnvPushoverTokenParam: "/cabal/pushover_app_token",
	EnvNtfyTokenParam:     "/cabal/ntfy_publisher_token",
}

// fakeSSM answers GetParameters from a map, the way SSM does: unknown names
// come back in InvalidParameters.
type fakeSSM struct {
	params map[string]string
	err    error
	calls  []*ssm.GetParametersInput
}

func (f *fakeSSM) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := f.params[n]; ok {
			out.Parameters = append(out.Parameters, types.Parameter{Name: aws.String(n), Value: aws.String(v), Type: types.ParameterTypeSecureString})
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

// upstreamValues are the parameters cabal-infra's
// terraform/infra/modules/monitoring/ssm.tf creates, with test values.
var upstreamValues = map[string]string{
	"/cabal/alert_sink_secret":    "shared-value",
	"/cabal/pushover_user_key":    "user-value",
	"/cabal/pushover_app_token":   "token-value",
	"/cabal/ntfy_publisher_token": "ntfy-value",
}

// fromUpstream runs FromSSM with env on a fake SSM holding upstreamValues
// and extra, and checks that it made exactly one call, for exactly the
// upstream parameters, and returned their values. It returns that call.
func fromUpstream(t *testing.T, env, extra map[string]string) *ssm.GetParametersInput {
	t.Helper()
	params := maps.Clone(upstreamValues)
	maps.Copy(params, extra)
	f := &fakeSSM{params: params}
	s, err := FromSSM(t.Context(), f, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Secrets{Shared: "shared-value", PushoverUser: "user-value", PushoverToken: "token-value", NtfyToken: "ntfy-value"}
	if s != want {
		t.Errorf("secrets = %+v, want %+v", s, want)
	}
	if len(f.calls) != 1 {
		t.Fatalf("%d GetParameters calls, want 1", len(f.calls))
	}
	wantNames := []string{"/cabal/alert_sink_secret", "/cabal/ntfy_publisher_token", "/cabal/pushover_app_token", "/cabal/pushover_user_key"}
	if got := f.calls[0].Names; !slices.Equal(got, wantNames) {
		t.Errorf("names asked = %q, want %q", got, wantNames)
	}
	return f.calls[0]
}

func TestFromSSM(t *testing.T) {
	in := fromUpstream(t, lambdaEnv, map[string]string{"/cabal/unrelated_other_param": "x"})
	if !aws.ToBool(in.WithDecryption) {
		t.Error("WithDecryption not set: SecureStrings would come back encrypted")
	}
}

func TestFromSSMSharedParameter(t *testing.T) {
	// One parameter may serve two roles; it is asked for once.
	env := map[string]string{
		EnvSharedParam: "/s", EnvPushoverUserParam: "/p", EnvPushoverTokenParam: "/p", EnvNtfyTokenParam: "/n",
	}
	f := &fakeSSM{params: map[string]string{"/s": "a", "/p": "b", "/n": "c"}}
	s, err := FromSSM(t.Context(), f, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if s.PushoverUser != "b" || s.PushoverToken != "b" || !slices.Equal(f.calls[0].Names, []string{"/n", "/p", "/s"}) {
		t.Errorf("secrets %+v, names %v", s, f.calls[0].Names)
	}
}

// TestFromSSMDefaultsToUpstreamNames: with no *_PARAM variable (or an
// empty one) the function asks SSM for exactly the parameters cabal-infra's
// terraform/infra/modules/monitoring/ssm.tf creates.
func TestFromSSMDefaultsToUpstreamNames(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"unset": {},
		"empty": {EnvSharedParam: "", EnvPushoverUserParam: "", EnvPushoverTokenParam: "", EnvNtfyTokenParam: ""},
		"some":  {EnvSharedParam: "/cabal/alert_sink_secret", EnvNtfyTokenParam: "/cabal/ntfy_publisher_token"},
	} {
		t.Run(name, func(t *testing.T) {
			fromUpstream(t, env, nil)
		})
	}
}

func TestFromSSMFailures(t *testing.T) {
	t.Run("parameter missing", func(t *testing.T) {
		partial := map[string]string{"/cabal/alert_sink_secret": "shared-value", "/cabal/pushover_user_key": "user-value"}
		_, err := FromSSM(t.Context(), &fakeSSM{params: partial}, envOf(lambdaEnv))
		if err == nil || err.Error() != "ssm parameters not found: /cabal/ntfy_publisher_token, /cabal/pushover_app_token" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ssm error", func(t *testing.T) {
		_, err := FromSSM(t.Context(), &fakeSSM{err: errors.New("AccessDeniedException")}, envOf(lambdaEnv))
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty shared secret", func(t *testing.T) {
		empty := maps.Clone(upstreamValues)
		empty["/cabal/alert_sink_secret"] = ""
		_, err := FromSSM(t.Context(), &fakeSSM{params: empty}, envOf(lambdaEnv))
		if err == nil || !strings.Contains(err.Error(), "/cabal/alert_sink_secret is empty") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFromEnv(t *testing.T) {
	if _, err := FromEnv(envOf(map[string]string{EnvPushoverUser: "u"})); err == nil || err.Error() != "ALERT_SINK_SECRET is not set" {
		t.Fatalf("err = %v", err)
	}
	s, err := FromEnv(envOf(map[string]string{
		EnvShared: "a", EnvPushoverUser: "b", EnvPushoverToken: "c", EnvNtfyToken: "d",
	}))
	if err != nil || s != (Secrets{Shared: "a", PushoverUser: "b", PushoverToken: "c", NtfyToken: "d"}) {
		t.Fatalf("FromEnv = %+v, %v", s, err)
	}
}
