package terraform_test

import (
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/cabalmail/mailtier/internal/testenv"
	"github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
	"github.com/cabalmail/mailtier/lambda/alert_sink/secrets"
)

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

// The account and the values AWS would give the module's own resources,
// so that every attribute evaluates to what a plan would show.
const (
	testAccount   = "123456789012"
	testTableName = "cabal-mailtier-alert-sink-dedupe"
	testTableARN  = "arn:aws:dynamodb:us-east-1:123456789012:table/cabal-mailtier-alert-sink-dedupe"
	testKeyARN    = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
	testLogARN    = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/cabal-mailtier-alert-sink"
)

// sinkContext is the monitoring module with monitoring on, its data
// sources and resources known as after an apply.
func sinkContext(t *testing.T) (*tfModule, *hcl.EvalContext) {
	t.Helper()
	m, ctx := monitoringContext(t, true)
	one := func(attrs map[string]cty.Value) cty.Value { return cty.TupleVal([]cty.Value{cty.ObjectVal(attrs)}) }
	vars := map[string]cty.Value{}
	for k, v := range ctx.Variables {
		vars[k] = v
	}
	vars["data"] = cty.ObjectVal(map[string]cty.Value{
		"aws_caller_identity": cty.ObjectVal(map[string]cty.Value{"current": one(map[string]cty.Value{"account_id": cty.StringVal(testAccount)})}),
		"aws_partition":       cty.ObjectVal(map[string]cty.Value{"current": one(map[string]cty.Value{"partition": cty.StringVal("aws")})}),
		"aws_kms_alias":       cty.ObjectVal(map[string]cty.Value{"ssm": one(map[string]cty.Value{"target_key_arn": cty.StringVal(testKeyARN)})}),
	})
	vars["aws_dynamodb_table"] = cty.ObjectVal(map[string]cty.Value{"alert_sink_dedupe": one(map[string]cty.Value{
		"name": cty.StringVal(testTableName), "arn": cty.StringVal(testTableARN)})})
	vars["aws_cloudwatch_log_group"] = cty.ObjectVal(map[string]cty.Value{"alert_sink": one(map[string]cty.Value{
		"name": cty.StringVal("/aws/lambda/cabal-mailtier-alert-sink"), "arn": cty.StringVal(testLogARN)})})
	return m, &hcl.EvalContext{Variables: vars, Functions: ctx.Functions}
}

func strAttr(t *testing.T, ctx *hcl.EvalContext, body *hclsyntax.Body, name string) string {
	t.Helper()
	v := attr(t, ctx, body, name)
	if v.Type() != cty.String {
		t.Fatalf("%s is a %s", name, v.Type().FriendlyName())
	}
	return v.AsString()
}

func strList(t *testing.T, v cty.Value) []string {
	t.Helper()
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

// sinkEnv evaluates the function's environment variables.
func sinkEnv(t *testing.T, m *tfModule, ctx *hcl.EvalContext) map[string]string {
	t.Helper()
	env := subBlocks(m.block(t, "aws_lambda_function.alert_sink").body, "environment")
	if len(env) != 1 {
		t.Fatalf("%d environment blocks", len(env))
	}
	out := map[string]string{}
	for k, v := range attr(t, ctx, env[0].Body, "variables").AsValueMap() {
		out[k] = v.AsString()
	}
	return out
}

// validates reports whether the module accepts var = value.
func validates(t *testing.T, m *tfModule, name string, value cty.Value) bool {
	t.Helper()
	in := monitoringInputs(true)
	in[name] = value
	return m.validate(in) == nil
}

// TestAlertSinkDoesNotOverwriteUpstream: the package goes to its own S3
// key, not the one cabal-infra's Python function is deployed from, and no
// name of the function's resources is one cabal-infra already uses.
func TestAlertSinkDoesNotOverwriteUpstream(t *testing.T) {
	m, ctx := sinkContext(t)
	fn := m.block(t, "aws_lambda_function.alert_sink")
	key := strAttr(t, ctx, fn.body, "s3_key")
	if key != "lambda/mailtier_alert_sink.zip" {
		t.Errorf("s3_key = %q, want lambda/mailtier_alert_sink.zip", key)
	}
	if key == upstreamAlertSinkS3Key || key+".base64sha256" == upstreamAlertSinkHashKey {
		t.Errorf("s3_key %q is cabal-infra's", key)
	}
	if validates(t, m, "alert_sink_s3_key", cty.StringVal(upstreamAlertSinkS3Key)) {
		t.Errorf("alert_sink_s3_key = %q is accepted", upstreamAlertSinkS3Key)
	}
	if !validates(t, m, "alert_sink_s3_key", cty.StringVal("lambda/other.zip")) {
		t.Error("alert_sink_s3_key = lambda/other.zip is rejected")
	}
	// build.sh writes the zip under the key's name.
	if script := testenv.ReadRepoFile(t, "docker/alert_sink/build.sh"); !strings.Contains(script, `-o "$out/`+path.Base(key)+`"`) {
		t.Errorf("docker/alert_sink/build.sh does not write %s", path.Base(key))
	}

	names := map[string]string{
		"function":  strAttr(t, ctx, fn.body, "function_name"),
		"role":      strAttr(t, ctx, m.block(t, "aws_iam_role.alert_sink").body, "name"),
		"policy":    strAttr(t, ctx, m.block(t, "aws_iam_role_policy.alert_sink").body, "name"),
		"log group": strAttr(t, ctx, m.block(t, "aws_cloudwatch_log_group.alert_sink").body, "name"),
	}
	want := map[string]string{
		"function":  "cabal-mailtier-alert-sink",
		"role":      "cabal-mailtier-alert-sink-role",
		"policy":    "cabal-mailtier-alert-sink-policy",
		"log group": "/aws/lambda/cabal-mailtier-alert-sink",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	for what, name := range names {
		if slices.Contains([]string{upstreamAlertSinkFunction, upstreamAlertSinkRole, upstreamAlertSinkPolicy, upstreamAlertSinkLogGroup}, name) {
			t.Errorf("%s name %q is cabal-infra's", what, name)
		}
	}
}

// TestAlertSinkReadsUpstreamParameters: by default the function reads the
// SSM parameters cabal-infra creates, may read exactly those, and the
// module creates none (cabal-infra's would collide).
func TestAlertSinkReadsUpstreamParameters(t *testing.T) {
	m, ctx := sinkContext(t)
	for _, b := range m.blocks {
		if b.typ == "aws_ssm_parameter" || b.typ == "random_password" {
			t.Errorf("%s: the parameters are cabal-infra's; this module must not create them", b.address())
		}
	}
	env := sinkEnv(t, m, ctx)
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
	out, err := m.output(ctx, "parameter_names")
	if err != nil {
		t.Fatal(err)
	}
	if got := out.AsValueMap()["shared_secret"].AsString(); got != upstreamSharedSecretParam {
		t.Errorf("output parameter_names.shared_secret = %q", got)
	}
	if validates(t, m, "alert_sink_parameter_names", cty.ObjectVal(map[string]cty.Value{
		"shared_secret": cty.StringVal("cabal/alert_sink_secret"), "pushover_user_key": cty.StringVal("/a"),
		"pushover_app_token": cty.StringVal("/b"), "ntfy_publisher_token": cty.StringVal("/c"),
	})) {
		t.Error("a parameter name without its leading / is accepted")
	}
}

// TestAlertSinkConcurrencySizedForBursts: a burst of webhooks gets as many
// instances as it needs, up to a reserve that covers every monitor firing
// at once, instead of HTTP 429 past the first.
func TestAlertSinkConcurrencySizedForBursts(t *testing.T) {
	m, ctx := sinkContext(t)
	fn := m.block(t, "aws_lambda_function.alert_sink")
	if got := attr(t, ctx, fn.body, "reserved_concurrent_executions"); !got.RawEquals(cty.NumberIntVal(25)) {
		t.Errorf("reserved_concurrent_executions = %#v, want 25", got)
	}
	for n, ok := range map[int64]bool{1: false, 19: false, 20: true, 100: true, -1: true, 0: false} {
		if validates(t, m, "alert_sink_reserved_concurrency", cty.NumberIntVal(n)) != ok {
			t.Errorf("alert_sink_reserved_concurrency = %d: accepted %v, want %v", n, !ok, ok)
		}
	}
}

// TestAlertSinkDedupeTable: the table all instances share, laid out as the
// function's DynamoDB store expects, and named in its environment.
func TestAlertSinkDedupeTable(t *testing.T) {
	m, ctx := sinkContext(t)
	tb := m.block(t, "aws_dynamodb_table.alert_sink_dedupe")
	checks := map[string]string{
		"name":         testTableName,
		"billing_mode": "PAY_PER_REQUEST",
		"hash_key":     dedupe.AttrKey,
	}
	for name, want := range checks {
		if got := strAttr(t, ctx, tb.body, name); got != want {
			t.Errorf("table %s = %q, want %q", name, got, want)
		}
	}
	if _, ok := tb.body.Attributes["range_key"]; ok {
		t.Error("table has a range key; the store uses the hash key alone")
	}
	attrs := subBlocks(tb.body, "attribute")
	if len(attrs) != 1 || strAttr(t, ctx, attrs[0].Body, "name") != dedupe.AttrKey || strAttr(t, ctx, attrs[0].Body, "type") != "S" {
		t.Error("want exactly one attribute definition: the string hash key")
	}
	ttl := subBlocks(tb.body, "ttl")
	if len(ttl) != 1 || strAttr(t, ctx, ttl[0].Body, "attribute_name") != dedupe.AttrExpires || !attr(t, ctx, ttl[0].Body, "enabled").RawEquals(cty.True) {
		t.Errorf("ttl: want %s enabled", dedupe.AttrExpires)
	}
	if got := sinkEnv(t, m, ctx)["ALERT_SINK_DEDUPE_TABLE"]; got != testTableName {
		t.Errorf("ALERT_SINK_DEDUPE_TABLE = %q, want %q", got, testTableName)
	}
}

func TestAlertSinkFunction(t *testing.T) {
	m, ctx := sinkContext(t)
	fn := m.block(t, "aws_lambda_function.alert_sink")
	checks := map[string]cty.Value{
		"function_name": cty.StringVal("cabal-mailtier-alert-sink"),
		"runtime":       cty.StringVal("provided.al2023"),
		"handler":       cty.StringVal("bootstrap"),
		"architectures": cty.TupleVal([]cty.Value{cty.StringVal("arm64")}),
		"s3_bucket":     cty.StringVal("cabal-lambda-bucket"),
		"memory_size":   cty.NumberIntVal(128),
		"timeout":       cty.NumberIntVal(10),
	}
	for name, want := range checks {
		if got := attr(t, ctx, fn.body, name); !got.RawEquals(want) {
			t.Errorf("alert_sink.%s = %#v, want %#v", name, got, want)
		}
	}
	if got := references(fn.body.Attributes["role"].Expr); !reflect.DeepEqual(got, []string{"aws_iam_role.alert_sink[0].arn"}) {
		t.Errorf("role refers to %v", got)
	}
	wantEnv := map[string]string{
		"SHARED_SECRET_PARAM":        upstreamSharedSecretParam,
		"PUSHOVER_USER_KEY_PARAM":    upstreamPushoverUserParam,
		"PUSHOVER_APP_TOKEN_PARAM":   upstreamPushoverTokenParam,
		"NTFY_PUBLISHER_TOKEN_PARAM": upstreamNtfyTokenParam,
		"NTFY_BASE_URL":              "https://ntfy.example.com",
		"NTFY_TOPIC":                 "alerts",
		"ALERT_SINK_DEDUPE_TABLE":    testTableName,
	}
	if got := sinkEnv(t, m, ctx); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("environment = %v, want %v", got, wantEnv)
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

// TestAlertSinkPolicyIsLeastPrivilege evaluates every statement of the
// function's IAM policy: its actions, resources and conditions exactly.
func TestAlertSinkPolicyIsLeastPrivilege(t *testing.T) {
	m, ctx := sinkContext(t)
	params := []string{
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/alert_sink_secret",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/pushover_user_key",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/pushover_app_token",
		"arn:aws:ssm:us-east-1:123456789012:parameter/cabal/ntfy_publisher_token",
	}
	type statement struct {
		actions, resources []string
		conditions         map[string][]string
	}
	want := map[string]statement{
		"ReadAlertSinkParameters": {actions: []string{"ssm:GetParameter", "ssm:GetParameters"}, resources: params},
		"DecryptAlertSinkParameters": {
			actions:   []string{"kms:Decrypt"},
			resources: []string{testKeyARN},
			conditions: map[string][]string{
				"StringEquals kms:ViaService":                      {"ssm.us-east-1.amazonaws.com"},
				"StringEquals kms:EncryptionContext:PARAMETER_ARN": params,
			},
		},
		"DedupeRecords": {actions: []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"}, resources: []string{testTableARN}},
		"WriteOwnLogs":  {actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, resources: []string{testLogARN + ":*"}},
	}
	got := map[string]statement{}
	for _, st := range subBlocks(m.block(t, "data.aws_iam_policy_document.alert_sink").body, "statement") {
		sid := strAttr(t, ctx, st.Body, "sid")
		if _, ok := st.Body.Attributes["effect"]; ok {
			t.Errorf("%s: effect set explicitly; statements are Allow by default", sid)
		}
		s := statement{actions: strList(t, attr(t, ctx, st.Body, "actions")), resources: strList(t, attr(t, ctx, st.Body, "resources"))}
		for _, c := range subBlocks(st.Body, "condition") {
			if s.conditions == nil {
				s.conditions = map[string][]string{}
			}
			key := strAttr(t, ctx, c.Body, "test") + " " + strAttr(t, ctx, c.Body, "variable")
			s.conditions[key] = strList(t, attr(t, ctx, c.Body, "values"))
		}
		got[sid] = s
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policy statements:\n got %+v\nwant %+v", got, want)
	}
	for _, f := range m.files {
		if regexp.MustCompile(`"[a-z0-9]+:\*"|resources\s*=\s*\["\*"\]`).Match(f.src) {
			t.Errorf("%s contains a wildcard action or resource", f.path)
		}
	}
}
