package rules_test

import "bytes"
import "encoding/json"
import "maps"
import "net/http"
import "os"
import "os/exec"
import "path/filepath"
import "strings"
import "testing"
import "time"

import "gopkg.in/yaml.v3"

import "github.com/cabalmail/mailtier/internal/testenv"

// --- Alertmanager -----------------------------------------------------------------

type amConfig struct {
	Route struct {
		Receiver string `yaml:"receiver"`
	} `yaml:"route"`
	InhibitRules []inhibitRule `yaml:"inhibit_rules"`
	Receivers    []struct {
		Name           string `yaml:"name"`
		WebhookConfigs []struct {
			URL          string `yaml:"url"`
			SendResolved bool   `yaml:"send_resolved"`
			HTTPConfig   struct {
				Authorization struct {
					Type            string `yaml:"type"`
					Credentials     string `yaml:"credentials"`
					CredentialsFile string `yaml:"credentials_file"`
				} `yaml:"authorization"`
				BearerToken string `yaml:"bearer_token"`
			} `yaml:"http_config"`
		} `yaml:"webhook_configs"`
		PushoverConfigs []any `yaml:"pushover_configs"`
		EmailConfigs    []any `yaml:"email_configs"`
	} `yaml:"receivers"`
}

type inhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

const (
	amTemplate     = "docker/alertmanager/alertmanager.yml"
	sinkURLHolder  = "https://__ALERT_SINK_HOST__/"
	sinkSecretFile = "/etc/alertmanager/secrets/alert_sink_secret"
)

func loadAMConfig(t *testing.T, path string) amConfig {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c amConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := testenv.Binary(t, "amtool", "prometheus-alertmanager")
	out := run(t, nil, amtool, "check-config", filepath.Join(testenv.RepoRoot(t), amTemplate))
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config:\n%s", out)
	}
}

func TestAlertmanagerReceivers(t *testing.T) {
	c := loadAMConfig(t, filepath.Join(testenv.RepoRoot(t), amTemplate))
	seen := map[string]bool{}
	for _, r := range c.Receivers {
		seen[r.Name] = true
		switch r.Name {
		case "alert_sink_critical", "alert_sink_warning":
			if len(r.WebhookConfigs) != 1 || len(r.PushoverConfigs) != 0 || len(r.EmailConfigs) != 0 {
				t.Errorf("receiver %s: want exactly one webhook to alert_sink", r.Name)
				continue
			}
			w := r.WebhookConfigs[0]
			if w.URL != sinkURLHolder {
				t.Errorf("receiver %s: url %q, want the placeholder %q that the entrypoint renders", r.Name, w.URL, sinkURLHolder)
			}
			if !w.SendResolved {
				t.Errorf("receiver %s: send_resolved must be true", r.Name)
			}
			a := w.HTTPConfig.Authorization
			if a.Type != "Bearer" || a.CredentialsFile != sinkSecretFile || a.Credentials != "" || w.HTTPConfig.BearerToken != "" {
				t.Errorf("receiver %s: want a Bearer token read from %s and no inline secret, got %+v", r.Name, sinkSecretFile, a)
			}
		case "null":
			if len(r.WebhookConfigs)+len(r.PushoverConfigs)+len(r.EmailConfigs) != 0 {
				t.Errorf("receiver null must send nothing")
			}
		default:
			t.Errorf("unexpected receiver %q", r.Name)
		}
	}
	for _, want := range []string{"alert_sink_critical", "alert_sink_warning", "null"} {
		if !seen[want] {
			t.Errorf("receiver %s is missing", want)
		}
	}
}

func TestAlertmanagerRoutes(t *testing.T) {
	amtool := testenv.Binary(t, "amtool", "prometheus-alertmanager")
	config := filepath.Join(testenv.RepoRoot(t), amTemplate)
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=SendmailQueueDepthHigh", "severity=critical", "tier=smtp-in"}, "alert_sink_critical"},
		{[]string{"alertname=SendmailQueueDepthHigh", "severity=warning", "tier=smtp-out"}, "alert_sink_warning"},
		{[]string{"alertname=MailtierUnmatchedLinesHigh", "severity=info", "tier=imap"}, "null"},
		{[]string{"alertname=Unlabelled"}, "alert_sink_warning"},
	} {
		out := run(t, nil, amtool, append([]string{"config", "routes", "test", "--config.file=" + config}, tc.labels...)...)
		if got := strings.TrimSpace(lastLine(out)); got != tc.want {
			t.Errorf("alert %v routes to %q, want %q", tc.labels, got, tc.want)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestAlertmanagerEntrypoint renders the configuration the way the image
// does and checks the result with amtool.
func TestAlertmanagerEntrypoint(t *testing.T) {
	amtool := testenv.Binary(t, "amtool", "prometheus-alertmanager")
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	secret := filepath.Join(dir, "alert_sink_secret")
	const url = "https://abcdefghij.lambda-url.us-east-2.on.aws/"
	const token = "t0ken&with|specials\\"
	run(t, []string{
		"MAILTIER_AM_TEMPLATE=" + filepath.Join(root, amTemplate),
		"MAILTIER_AM_CONFIG=" + config,
		"MAILTIER_AM_SECRET_FILE=" + secret,
		"MAILTIER_AM_BINARY=true",
		"ALERT_SINK_URL=" + url,
		"ALERT_SECRET=" + token,
	}, "sh", filepath.Join(root, "docker", "alertmanager", "entrypoint.sh"))

	got, err := os.ReadFile(secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != token {
		t.Errorf("secret file holds %q, want %q", got, token)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v %v, want 0600", fi.Mode().Perm(), err)
	}
	rendered, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rendered), token) {
		t.Error("the rendered configuration contains the secret itself")
	}
	c := loadAMConfig(t, config)
	for _, r := range c.Receivers {
		for _, w := range r.WebhookConfigs {
			if w.URL != url || w.HTTPConfig.Authorization.CredentialsFile != secret {
				t.Errorf("receiver %s renders to url %q, credentials_file %q", r.Name, w.URL, w.HTTPConfig.Authorization.CredentialsFile)
			}
		}
	}
	out := run(t, nil, amtool, "check-config", config)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config on the rendered file:\n%s", out)
	}
}

// alertmanagerWithConfig runs Debian's Alertmanager on a free loopback
// port with the project's configuration (its receivers pointed at a
// closed loopback port) and returns its URL.
func alertmanagerWithConfig(t *testing.T, binary string) string {
	t.Helper()
	dir := t.TempDir()
	template, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), amTemplate))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := strings.ReplaceAll(string(template), sinkURLHolder, "http://127.0.0.1:9/")
	config = strings.ReplaceAll(config, sinkSecretFile, secret)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(binary, "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--cluster.listen-address=", "--log.level=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	url := "http://" + addr
	testenv.WaitUntil(t, "Alertmanager to be ready", 20*time.Second, func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

// inhibited posts a firing source and target alert to a fresh Alertmanager
// and reads back, through its API, whether the target is inhibited. A
// sentinel pair posted after them (a critical and its own warning, on a
// tier of its own) is inhibited by the first rule: once the API shows
// that, the inhibitor has seen the source as well.
func inhibited(t *testing.T, binary string, source, target map[string]string) bool {
	t.Helper()
	url := alertmanagerWithConfig(t, binary)
	target = maps.Clone(target)
	target["mailtier_test_role"] = "target"
	sentinel := map[string]string{"alertname": "MailtierTestSentinel", "tier": "sentinel", "severity": "critical"}
	sentinelWarning := maps.Clone(sentinel)
	sentinelWarning["severity"] = "warning"
	var alerts []map[string]any
	for _, ls := range []map[string]string{source, target, sentinel, sentinelWarning} {
		alerts = append(alerts, map[string]any{"labels": ls, "startsAt": time.Now().Add(-time.Minute).Format(time.RFC3339), "endsAt": time.Now().Add(time.Hour).Format(time.RFC3339)})
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
	type apiAlert struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	var targetInhibited bool
	testenv.WaitUntil(t, "the sentinel warning to be inhibited", 20*time.Second, func() bool {
		resp, err := http.Get(url + "/api/v2/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var got []apiAlert
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			return false
		}
		sentinelMuted, seen := false, 0
		for _, a := range got {
			switch {
			case a.Labels["alertname"] == sentinel["alertname"] && a.Labels["severity"] == "warning":
				sentinelMuted = len(a.Status.InhibitedBy) > 0
				seen++
			case a.Labels["mailtier_test_role"] == "target":
				targetInhibited = len(a.Status.InhibitedBy) > 0
				seen++
			}
		}
		return seen == 2 && sentinelMuted
	})
	return targetInhibited
}

// TestAlertmanagerInhibitions has Debian's Alertmanager, with the
// project's configuration, decide each inhibition.
func TestAlertmanagerInhibitions(t *testing.T) {
	binary := testenv.Binary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	probeFailing := func(job, instance string) map[string]string {
		return l("alertname", "BlackboxProbeFailure", "severity", "critical", "job", job, "instance", instance)
	}
	// The sources that inhibit one target and spare the next.
	queueCritical := l("alertname", "SendmailQueueDepthHigh", "severity", "critical", "tier", "smtp-in")
	imapProbeFailing := probeFailing("blackbox-imap-starttls", "imap.cabal.internal:143")
	inputDown := l("alertname", "MailtierInputDown", "severity", "warning", "tier", "smtp-out", "instance", "10.0.3.10:9469", "path", "/var/log/maillog")
	logStale := func(path string) map[string]string {
		return l("alertname", "MailtierLogStale", "severity", "warning", "tier", "smtp-out", "instance", "10.0.3.10:9469", "path", path)
	}
	for _, tc := range []struct {
		name           string
		source, target map[string]string
		want           bool
	}{
		{"a critical suppresses its own warning", queueCritical, l("alertname", "SendmailQueueDepthHigh", "severity", "warning", "tier", "smtp-in"), true},
		{"but not the same alert's warning on another tier", queueCritical, l("alertname", "SendmailQueueDepthHigh", "severity", "warning", "tier", "smtp-out"), false},
		{
			"nor the warning of another target",
			l("alertname", "ProbeTlsCertificateExpiring", "severity", "critical", "tier", "frontend", "instance", "https://mail.example.com/"),
			l("alertname", "ProbeTlsCertificateExpiring", "severity", "warning", "tier", "smtp-out", "instance", "smtp-out.mail.example.com:465"),
			false,
		},
		{
			"nor another alert's warning",
			l("alertname", "SendmailOutboundRejectsHigh", "severity", "critical", "tier", "smtp-out"),
			l("alertname", "SendmailRemoteRateLimited", "severity", "warning", "tier", "smtp-out", "reason", "rate_limited"),
			false,
		},
		{"a failing probe suppresses the tier's symptoms", imapProbeFailing, l("alertname", "SendmailLocalDeliveryFailuresHigh", "severity", "critical", "tier", "imap"), true},
		{"nor the tier's crash loop, which is a cause", probeFailing("blackbox-tcp", "smtp-in.mail.example.com:25"), l("alertname", "EcsTaskReplacementsHigh", "severity", "critical", "tier", "smtp-in"), false},
		{"but not another tier's", imapProbeFailing, l("alertname", "SendmailQueueDepthHigh", "severity", "warning", "tier", "smtp-in"), false},
		{"nor the tier's other probes", probeFailing("blackbox-tcp", "smtp-out.mail.example.com:587"), probeFailing("blackbox-tls", "smtp-out.mail.example.com:465"), false},
		{"a failing ntfy probe does not mute the platform", probeFailing("blackbox-http", "https://ntfy.mail.example.com/v1/health"), l("alertname", "EcsTaskStartSlow", "severity", "warning", "tier", "platform"), false},
		{"an input that is not followed explains its stale log", inputDown, logStale("/var/log/maillog"), true},
		{"but not another file's", inputDown, logStale("/var/log/dovecot.log"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inhibited(t, binary, tc.source, tc.target); got != tc.want {
				t.Errorf("inhibited = %v, want %v", got, tc.want)
			}
		})
	}
}
