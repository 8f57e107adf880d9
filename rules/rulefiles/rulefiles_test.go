package rulefiles

import "os"
import "path/filepath"
import "testing"

import "gopkg.in/yaml.v3"

// TestFileWrittenBack checks that a File written back leaves out the fields
// a rule does not have: vmalert refuses an empty "for" or "interval", and a
// record rule with an "alert" key.
func TestFileWrittenBack(t *testing.T) {
	f := File{Groups: []Group{{
		Name: "sendmail.rules",
		Rules: []Rule{
			{Record: "tier:sendmail_deliveries:rate5m", Expr: "sum by (tier) (rate(sendmail_deliveries_total[5m]))"},
			{Alert: "SendmailDown", Expr: "up == 0", For: "5m", Labels: map[string]string{"severity": "critical"}, Annotations: map[string]string{"summary": "down"}},
		},
	}}}
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	const want = `groups:
    - name: sendmail.rules
      rules:
        - record: tier:sendmail_deliveries:rate5m
          expr: sum by (tier) (rate(sendmail_deliveries_total[5m]))
        - alert: SendmailDown
          expr: up == 0
          for: 5m
          labels:
            severity: critical
          annotations:
            summary: down
`
	if string(data) != want {
		t.Errorf("yaml.Marshal(File) =\n%s\nwant\n%s", data, want)
	}

	path := filepath.Join(t.TempDir(), "sendmail.rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var back File
	if err := DecodeStrict(path, &back); err != nil {
		t.Fatal(err)
	}
	if got, _ := yaml.Marshal(back); string(got) != want {
		t.Errorf("decoded back and written again =\n%s\nwant\n%s", got, want)
	}
}
