// Package secrets loads alert_sink's four credentials once, at start: from
// SSM Parameter Store SecureStrings when running as a Lambda, from the
// environment when running as a plain HTTP server. Values are never logged
// and never appear in an error; only parameter and variable names do.
package secrets

import "context"
import "errors"
import "fmt"
import "slices"
import "strings"

import "github.com/aws/aws-sdk-go-v2/aws"
import "github.com/aws/aws-sdk-go-v2/service/ssm"

// Secrets are the credentials alert_sink needs.
type Secrets struct {
	// Shared is what callers present in X-Alert-Secret or as a bearer token.
	Shared        string
	PushoverUser  string
	PushoverToken string
	NtfyToken     string
}

// Environment variables of HTTP mode, holding the values themselves.
const (
	EnvShared        = "ALERT_SINK_SECRET"
	EnvPushoverUser  = "PUSHOVER_USER_KEY"
	EnvPushoverToken = "PUSHOVER_APP_TOKEN"
	EnvNtfyToken     = "NTFY_PUBLISHER_TOKEN"
)

// The SSM parameters cabal-infra creates for its alert_sink
// (terraform/infra/modules/monitoring/ssm.tf) and passes to it in the
// *_PARAM variables (terraform/infra/modules/monitoring/alert_sink.tf).
// They are the defaults, so that this function reads the same secrets as
// the one it replaces, and Kuma, Healthchecks and Alertmanager keep theirs.
const (
	DefaultSharedParam        = "/cabal/alert_sink_secret"
	DefaultPushoverUserParam  = "/cabal/pushover_user_key"
	DefaultPushoverTokenParam = "/cabal/pushover_app_token"
	DefaultNtfyTokenParam     = "/cabal/ntfy_publisher_token"
)

// Environment variables of Lambda mode, holding the SSM parameter names.
// Each defaults to cabal-infra's name when unset or empty.
const (
	EnvSharedParam        = "SHARED_SECRET_PARAM"
	EnvPushoverUserParam  = "PUSHOVER_USER_KEY_PARAM"
	EnvPushoverTokenParam = "PUSHOVER_APP_TOKEN_PARAM"
	EnvNtfyTokenParam     = "NTFY_PUBLISHER_TOKEN_PARAM"
)

// FromEnv reads the values of HTTP mode. Only the shared secret is
// required: a self-hoster may run without Pushover, or with an open ntfy
// topic.
func FromEnv(getenv func(string) string) (Secrets, error) {
	s := Secrets{
		Shared:        getenv(EnvShared),
		PushoverUser:  getenv(EnvPushoverUser),
		PushoverToken: getenv(EnvPushoverToken),
		NtfyToken:     getenv(EnvNtfyToken),
	}
	if s.Shared == "" {
		return Secrets{}, fmt.Errorf("%s is not set", EnvShared)
	}
	return s, nil
}

// ParameterGetter is the one SSM call alert_sink makes; *ssm.Client
// implements it, and tests fake it.
type ParameterGetter interface {
	GetParameters(ctx context.Context, in *ssm.GetParametersInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

// FromSSM reads the four parameters named by the *_PARAM variables, or
// cabal-infra's names where they are unset, in one GetParameters call with
// decryption. Every parameter must exist, so that a half-configured
// function fails at its cold start, visibly, instead of at its first alert.
func FromSSM(ctx context.Context, c ParameterGetter, getenv func(string) string) (Secrets, error) {
	vars := []struct{ env, def string }{
		{EnvSharedParam, DefaultSharedParam},
		{EnvPushoverUserParam, DefaultPushoverUserParam},
		{EnvPushoverTokenParam, DefaultPushoverTokenParam},
		{EnvNtfyTokenParam, DefaultNtfyTokenParam},
	}
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = getenv(v.env)
		if names[i] == "" {
			names[i] = v.def
		}
	}
	unique := slices.Clone(names)
	slices.Sort(unique)
	unique = slices.Compact(unique)

	out, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: unique, WithDecryption: aws.Bool(true)})
	if err != nil {
		return Secrets{}, fmt.Errorf("ssm GetParameters: %w", err)
	}
	if len(out.InvalidParameters) > 0 {
		return Secrets{}, fmt.Errorf("ssm parameters not found: %s", strings.Join(out.InvalidParameters, ", "))
	}
	values := make(map[string]string, len(out.Parameters))
	for _, p := range out.Parameters {
		values[aws.ToString(p.Name)] = aws.ToString(p.Value)
	}
	var s Secrets
	for i, dst := range []*string{&s.Shared, &s.PushoverUser, &s.PushoverToken, &s.NtfyToken} {
		v, ok := values[names[i]]
		if !ok {
			return Secrets{}, fmt.Errorf("ssm GetParameters did not return %s", names[i])
		}
		*dst = v
	}
	if s.Shared == "" {
		return Secrets{}, errors.New("ssm parameter " + names[0] + " is empty")
	}
	return s, nil
}
