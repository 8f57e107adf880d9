package terraform_test

import "encoding/json"
import "path"
import "path/filepath"
import "reflect"
import "regexp"
import "slices"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/testenv"
import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/secrets"

// What cabal-infra (56bdbf2) already deploys for its own Python alert_sink,
// in terraform/infra/modules/monitoring/alert_sink.tf and ssm.tf. mailtier's
// function must share none of its names or its S3 object, and must read
// its SSM parameters.
const (
	upstreamAlertSinkS3Key     = "lambda/alert_sink.zip"              // aws_lambda_function.alert_sink.s3_key
	upstreamAlertSinkHashKey   = "lambda/alert_sink.zip.base64sha256" // data.aws_s3_object.alert_sink_hash.key
	upstreamAlertSinkFunction  = "alert_sink"                         // function_name
	upstreamAlertSinkRole      = "alert_sink_role"                    // aws_iam_role.alert_sink.name
	upstreamAlertSinkPolicy    = "alert_sink_policy"                  // aws_iam_role_policy.alert_sink.name
	upstreamAlertSinkLogGroup  = "/cabal/lambda/alert_sink"           // aws_cloudwatch_log_group.alert_sink.name
	upstreamSharedSecretParam  = "/cabal/alert_sink_secret"           // ssm.tf aws_ssm_parameter.alert_secret
	upstreamPushoverUserParam  = "/cabal/pushover_user_key"           // ssm.tf aws_ssm_parameter.pushover_user_key
	upstreamPushoverTokenParam = "/cabal/pushover_app_token"          // ssm.tf aws_ssm_parameter.pushover_app_token
	upstreamNtfyTokenParam     = "/cabal/ntfy_publisher_token"        // ssm.tf aws_ssm_parameter.ntfy_publisher_token
)

// alertSinkSettings is module.settings.alert_sink of the monitoring
// module.
type alertSinkSettings struct {
	DedupeTable struct {
		Name        string `json:"name"`
		BillingMode string `json:"billing_mode"`
		HashKey     string `json:"hash_key"`
		Attribute   struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"attribute"`
		TTL struct {
			AttributeName string `json:"attribute_name"`
			Enabled       bool   `json:"enabled"`
		} `json:"ttl"`
	} `json:"dedupe_table"`
	LogGroup struct {
		Name            string `json:"name"`
		RetentionInDays int    `json:"retention_in_days"`
	} `json:"log_group"`
	AssumeRolePolicy string `json:"assume_role_policy"`
	RoleName         string `json:"role_name"`
	RolePolicyName   string `json:"role_policy_name"`
	SSMKMSKeyAlias   string `json:"ssm_kms_key_alias"`
	Function         struct {
		FunctionName                 string            `json:"function_name"`
		Description                  string            `json:"description"`
		Runtime                      string            `json:"runtime"`
		Handler                      string            `json:"handler"`
		Architectures                []string          `json:"architectures"`
		S3Bucket                     string            `json:"s3_bucket"`
		S3Key                        string            `json:"s3_key"`
		MemorySize                   int               `json:"memory_size"`
		Timeout                      int               `json:"timeout"`
		ReservedConcurrentExecutions int               `json:"reserved_concurrent_executions"`
		Environment                  map[string]string `json:"environment"`
		LogFormat                    string            `json:"log_format"`
	} `json:"function"`
	FunctionURLAuthorizationType string `json:"function_url_authorization_type"`
}

// lambdaPermission is one of module.settings.alert_sink_url_permissions,
// whose keys are the statement ids.
type lambdaPermission struct {
	Action                string `json:"action"`
	Principal             string `json:"principal"`
	FunctionURLAuthType   string `json:"function_url_auth_type,omitempty"`
	InvokedViaFunctionURL bool   `json:"invoked_via_function_url,omitempty"`
}

// alertSink is alert_sink's settings with monitoring on.
func alertSink(t *testing.T) *alertSinkSettings {
	t.Helper()
	s := loadMonitoring(t, "on").AlertSink
	if s == nil {
		t.Fatal("testdata/monitoring.json, on: no alert_sink")
	}
	return s
}

// TestAlertSinkDoesNotOverwriteUpstream: the package goes to its own S3
// key, not the one cabal-infra's Python function is deployed from (the
// module refuses that key: TestMonitoringValidations), and no name of the
// function's resources is one cabal-infra already uses.
func TestAlertSinkDoesNotOverwriteUpstream(t *testing.T) {
	s := alertSink(t)
	key := s.Function.S3Key
	if key != "lambda/mailtier_alert_sink.zip" {
		t.Errorf("s3_key = %q, want lambda/mailtier_alert_sink.zip", key)
	}
	if key == upstreamAlertSinkS3Key || key+".base64sha256" == upstreamAlertSinkHashKey {
		t.Errorf("s3_key %q is cabal-infra's", key)
	}
	// build.sh writes the zip under the key's name.
	if script := testenv.ReadRepoFile(t, "docker/alert_sink/build.sh"); !strings.Contains(script, `-o "$out/`+path.Base(key)+`"`) {
		t.Errorf("docker/alert_sink/build.sh does not write %s", path.Base(key))
	}

	upstreamNames := []string{upstreamAlertSinkFunction, upstreamAlertSinkRole, upstreamAlertSinkPolicy, upstreamAlertSinkLogGroup}
	for _, n := range []struct{ what, got, want string }{
		{"function", s.Function.FunctionName, "cabal-mailtier-alert-sink"},
		{"role", s.RoleName, "cabal-mailtier-alert-sink-role"},
		{"policy", s.RolePolicyName, "cabal-mailtier-alert-sink-policy"},
		{"log group", s.LogGroup.Name, "/aws/lambda/cabal-mailtier-alert-sink"},
	} {
		if n.got != n.want {
			t.Errorf("%s name = %q, want %q", n.what, n.got, n.want)
		}
		if slices.Contains(upstreamNames, n.got) {
			t.Errorf("%s name %q is cabal-infra's", n.what, n.got)
		}
	}
}

// TestAlertSinkReadsUpstreamParameters: by default the function reads the
// SSM parameters cabal-infra creates, and the module creates none
// (cabal-infra's would collide).
func TestAlertSinkReadsUpstreamParameters(t *testing.T) {
	for addr := range monitoringBlocks {
		if strings.HasPrefix(addr, "aws_ssm_parameter.") || strings.HasPrefix(addr, "random_password.") {
			t.Errorf("%s: the parameters are cabal-infra's; this module must not create them", addr)
		}
	}
	env := alertSink(t).Function.Environment
	wantNames := map[string]string{
		"SHARED_SECRET_PARAM":        upstreamSharedSecretParam,
		"PUSHOVER_USER_KEY_PARAM":    upstreamPushoverUserParam,
		"PUSHOVER_APP_TOKEN_PARAM":   upstreamPushoverTokenParam,
		"NTFY_PUBLISHER_TOKEN_PARAM": upstreamNtfyTokenParam,
	}
	for k, want := range wantNames {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	// The function's own defaults are the same names.
	code := map[string]string{
		"SHARED_SECRET_PARAM":        secrets.DefaultSharedParam,
		"PUSHOVER_USER_KEY_PARAM":    secrets.DefaultPushoverUserParam,
		"PUSHOVER_APP_TOKEN_PARAM":   secrets.DefaultPushoverTokenParam,
		"NTFY_PUBLISHER_TOKEN_PARAM": secrets.DefaultNtfyTokenParam,
	}
	if !reflect.DeepEqual(code, wantNames) {
		t.Errorf("alert_sink's default parameter names = %v, want %v", code, wantNames)
	}
	wantOutput := map[string]string{
		"shared_secret":        upstreamSharedSecretParam,
		"pushover_user_key":    upstreamPushoverUserParam,
		"pushover_app_token":   upstreamPushoverTokenParam,
		"ntfy_publisher_token": upstreamNtfyTokenParam,
	}
	if got := loadMonitoring(t, "on").ParameterNames; !reflect.DeepEqual(got, wantOutput) {
		t.Errorf("output parameter_names = %v, want %v", got, wantOutput)
	}
}

// TestAlertSinkConcurrencySizedForBursts: a burst of webhooks gets as many
// instances as it needs, up to a reserve that covers every monitor firing
// at once, instead of HTTP 429 past the first. (Smaller reserves are
// refused: TestMonitoringValidations.)
func TestAlertSinkConcurrencySizedForBursts(t *testing.T) {
	if got := alertSink(t).Function.ReservedConcurrentExecutions; got != 25 {
		t.Errorf("reserved_concurrent_executions = %d, want 25", got)
	}
}

// TestAlertSinkDedupeTable: the table all instances share, laid out as the
// function's DynamoDB store expects, and named in its environment.
func TestAlertSinkDedupeTable(t *testing.T) {
	s := alertSink(t)
	tb := s.DedupeTable
	if tb.Name != testTableName || tb.BillingMode != "PAY_PER_REQUEST" || tb.HashKey != dedupe.AttrKey {
		t.Errorf("table %s, billing %s, hash key %s; want %s, PAY_PER_REQUEST, %s", tb.Name, tb.BillingMode, tb.HashKey, testTableName, dedupe.AttrKey)
	}
	// The golden is decoded strictly: a range key or a second attribute
	// would not decode.
	if tb.Attribute.Name != dedupe.AttrKey || tb.Attribute.Type != "S" {
		t.Errorf("attribute %+v, want the string hash key", tb.Attribute)
	}
	if tb.TTL.AttributeName != dedupe.AttrExpires || !tb.TTL.Enabled {
		t.Errorf("ttl %+v, want %s enabled", tb.TTL, dedupe.AttrExpires)
	}
	if got := s.Function.Environment["ALERT_SINK_DEDUPE_TABLE"]; got != testTableName {
		t.Errorf("ALERT_SINK_DEDUPE_TABLE = %q, want %q", got, testTableName)
	}
}

func TestAlertSinkFunction(t *testing.T) {
	s := alertSink(t)
	fn := s.Function
	if fn.FunctionName != "cabal-mailtier-alert-sink" || fn.Runtime != "provided.al2023" || fn.Handler != "bootstrap" ||
		!reflect.DeepEqual(fn.Architectures, []string{"arm64"}) || fn.S3Bucket != testLambdaBucket ||
		fn.MemorySize != 128 || fn.Timeout != 10 || fn.LogFormat != "Text" {
		t.Errorf("function %+v", fn)
	}
	wantEnv := map[string]string{
		"SHARED_SECRET_PARAM":        upstreamSharedSecretParam,
		"PUSHOVER_USER_KEY_PARAM":    upstreamPushoverUserParam,
		"PUSHOVER_APP_TOKEN_PARAM":   upstreamPushoverTokenParam,
		"NTFY_PUBLISHER_TOKEN_PARAM": upstreamNtfyTokenParam,
		"NTFY_BASE_URL":              testNtfyBaseURL,
		"NTFY_TOPIC":                 "alerts",
		"ALERT_SINK_DEDUPE_TABLE":    testTableName,
	}
	if !reflect.DeepEqual(fn.Environment, wantEnv) {
		t.Errorf("environment = %v, want %v", fn.Environment, wantEnv)
	}
	if s.LogGroup.RetentionInDays != 90 {
		t.Errorf("log retention %d days, want 90", s.LogGroup.RetentionInDays)
	}
	sameJSON(t, "assume-role policy", s.AssumeRolePolicy, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}`)
	if s.SSMKMSKeyAlias != "alias/aws/ssm" {
		t.Errorf("KMS alias %q, want alias/aws/ssm", s.SSMKMSKeyAlias)
	}

	// Code is deployed out of band (aws lambda update-function-code):
	// terraform, which cannot plan the function offline, must ignore it.
	if src := monitoringSource(t)["alert_sink.tf"]; !strings.Contains(src, "    ignore_changes = [s3_key, s3_object_version, source_code_hash]\n") ||
		!regexp.MustCompile(`(?m)^  role += aws_iam_role\.alert_sink\[0\]\.arn$`).MatchString(src) {
		t.Error("alert_sink.tf: the function does not take its role from aws_iam_role.alert_sink or does not ignore s3_key, s3_object_version, source_code_hash")
	}

	if s.FunctionURLAuthorizationType != "NONE" {
		t.Errorf("function URL authorization_type = %q", s.FunctionURLAuthorizationType)
	}
	wantPermissions := map[string]lambdaPermission{
		"FunctionURLAllowPublicAccess":       {Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionURLAuthType: "NONE"},
		"FunctionURLInvokeAllowPublicAccess": {Action: "lambda:InvokeFunction", Principal: "*", InvokedViaFunctionURL: true},
	}
	if got := loadMonitoring(t, "on").AlertSinkURLPermissions; !reflect.DeepEqual(got, wantPermissions) {
		t.Errorf("URL permissions %+v, want %+v", got, wantPermissions)
	}
}

// TestAlertSinkPolicyIsLeastPrivilege checks the function's IAM policy
// document as terraform renders it: every statement's effect, actions,
// resources and conditions exactly, in order.
func TestAlertSinkPolicyIsLeastPrivilege(t *testing.T) {
	params := []string{
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/alert_sink_secret",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/pushover_user_key",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/pushover_app_token",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/ntfy_publisher_token",
	}
	policy := loadMonitoring(t, "on").AlertSinkPolicy
	if policy == nil {
		t.Fatal("no alert_sink_policy with monitoring on")
	}
	sameJSON(t, "policy", *policy, `{"Version": "2012-10-17", "Statement": [
		{"Sid": "ReadAlertSinkParameters", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": `+jsonList(params)+`},
		{"Sid": "DecryptAlertSinkParameters", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["`+testKeyARN+`"], "Condition": {
			"StringEquals": {"kms:ViaService": ["ssm.us-east-1.amazonaws.com"], "kms:EncryptionContext:PARAMETER_ARN": `+jsonList(params)+`}}},
		{"Sid": "DedupeRecords", "Effect": "Allow", "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"], "Resource": ["`+testTableARN+`"]},
		{"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": ["`+testLogARN+`:*"]}]}`)
	for _, dir := range []string{monitoringDir, monitoringSettings} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
		for _, p := range paths {
			if regexp.MustCompile(`"[a-z0-9]+:\*"|(?i)resources?\s*=\s*\["\*"\]`).MatchString(readTerraformFile(t, p)) {
				t.Errorf("%s contains a wildcard action or resource", p)
			}
		}
	}
}

// sameJSON checks that doc, JSON terraform wrote, is the document want
// holds, key order and white space aside.
func sameJSON(t *testing.T, what, doc, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("%s %q: %v", what, doc, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want %s: %v", what, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("%s:\n got %s\nwant %s", what, doc, want)
	}
}

func jsonList(items []string) string {
	b, _ := json.Marshal(items)
	return string(b)
}
