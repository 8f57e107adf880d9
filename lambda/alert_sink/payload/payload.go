// Package payload decodes the two request bodies alert_sink accepts, the
// Alertmanager webhook (version 4) and the simple
// {severity, source, summary, runbook_url?, status?} object sent by Uptime
// Kuma and Healthchecks, into Notifications: the unit that is routed,
// deduplicated and delivered.
//
// An Alertmanager group becomes one Notification per severity present in it,
// carrying every alert of that severity, so that a group of several alerts is
// never reduced to its first one. Each Notification also carries the keys the
// delivery side needs: Thread (the same across updates of one incident, so
// ntfy can replace the message and Pushover emergencies can be cancelled),
// Idempotency (the same only for a retry of the same content) and PageKeys
// (the firing alerts, so a partial resolution does not page again).
package payload

import "bufio"
import "cmp"
import "crypto/sha256"
import "encoding/binary"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "hash"
import "slices"
import "strconv"
import "strings"
import "time"

// Severity is the routing class of a notification.
type Severity string

// The severities the routing table knows. Anything else is rejected, so a
// typo in an alerting rule fails loudly instead of being dropped.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// severityOrder fixes the order in which a mixed group's notifications are
// produced, most urgent first.
var severityOrder = []Severity{Critical, Warning, Info}

// ParseSeverity accepts a severity in any case, surrounded by any space.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(severityOrder, sev) {
		return sev, nil
	}
	return "", &Error{Msg: fmt.Sprintf("unknown severity %q (want critical, warning or info)", s)}
}

// Status says whether a notification reports a problem or its end.
type Status string

// Statuses as Alertmanager spells them.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// parseStatus names the payload part in its error as where(i): formatting
// it for each of a large group's alerts would cost more than parsing them.
func parseStatus(s string, where func(int) string, i int) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case Firing, Resolved:
		return st, nil
	}
	return "", &Error{Msg: fmt.Sprintf("%s: unknown status %q (want firing or resolved)", where(i), s)}
}

// Kind names the payload a notification came from.
type Kind string

// Payload kinds.
const (
	KindAlertmanager Kind = "alertmanager"
	KindSimple       Kind = "simple"
)

// Alert is one Alertmanager alert as it is shown to a human.
type Alert struct {
	Status      Status
	Name        string
	Instance    string
	Summary     string
	Fingerprint string
	StartsAt    time.Time
}

// Notification is one message to route: a simple payload, or the alerts of
// one severity from one Alertmanager group.
type Notification struct {
	Kind     Kind
	Severity Severity
	Status   Status
	// Source names where the problem is, e.g. "alertmanager/MailQueueStuck"
	// or "kuma/SMTP relay (STARTTLS)".
	Source string
	// Summary is the simple payload's text. Alertmanager notifications leave
	// it empty and carry Alerts instead.
	Summary string
	// Alerts are the Alertmanager alerts, firing ones first.
	Alerts []Alert
	// Truncated counts the alerts Alertmanager left out of the group
	// (max_alerts); they are not in Alerts.
	Truncated  int
	RunbookURL string
	// PushoverPriority is an alert's own request for Pushover priority 1 or
	// 2 (label pushover_priority); 0 leaves the configured default.
	PushoverPriority int
	// Thread stays the same for every update of one incident.
	Thread string
	// Idempotency is the same only for the same content of the same thread.
	Idempotency string
	// PageKeys identify the firing alerts (fingerprint and start). Empty for
	// simple payloads, which have no alert identity.
	PageKeys []string
}

// Error is a problem with the request body: the caller's fault, answered
// with 400 and never retried.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// IsBadInput reports whether err is a payload Error.
func IsBadInput(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Decode parses body, which must be a JSON object of either kind, and returns
// the notifications it asks for in a fixed order.
func Decode(body []byte) ([]Notification, error) {
	// One pass for an Alertmanager body, which can be a megabyte: both
	// kinds at once into one struct. A simple payload (small), a body it
	// does not take cleanly (a type error, a non-object, "alerts": null)
	// goes the long way below, which names the problem.
	var u union
	if err := json.Unmarshal(body, &u); err == nil && isObject(body) && (u.Alerts != nil || u.Version != nil || u.GroupKey != nil) {
		return buildAlertmanager(u.webhookMessage())
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, &Error{Msg: "invalid JSON body: want an object, got " + typeErr.Value}
		}
		return nil, &Error{Msg: "invalid JSON body: " + err.Error()}
	}
	if probe == nil {
		return nil, &Error{Msg: "invalid JSON body: want an object, got null"}
	}
	_, hasAlerts := probe["alerts"]
	_, hasVersion := probe["version"]
	_, hasGroupKey := probe["groupKey"]
	if hasAlerts || hasVersion || hasGroupKey {
		return decodeAlertmanager(body)
	}
	return decodeSimple(body)
}

// union holds the fields of both kinds of payload, so that an Alertmanager
// body is parsed once, not once to learn its kind and again to read it.
// Like the second parse, it matches field names without regard to case.
type union struct {
	Version         *string          `json:"version"`
	GroupKey        *string          `json:"groupKey"`
	TruncatedAlerts int              `json:"truncatedAlerts"`
	Alerts          *[]*webhookAlert `json:"alerts"`
	simpleMessage
}

func (u *union) webhookMessage() webhookMessage {
	m := webhookMessage{TruncatedAlerts: u.TruncatedAlerts}
	if u.Alerts != nil {
		m.Alerts = *u.Alerts
	}
	if u.Version != nil {
		m.Version = *u.Version
	}
	if u.GroupKey != nil {
		m.GroupKey = *u.GroupKey
	}
	return m
}

// isObject reports whether body's first non-space byte opens an object.
func isObject(body []byte) bool {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// webhookMessage is the part of Alertmanager's webhook body alert_sink uses
// (alertmanager/notify/webhook: Message, template.Data). A local copy keeps
// the Lambda free of Alertmanager's module and its dependencies.
type webhookMessage struct {
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts int    `json:"truncatedAlerts"`
	// Pointers: growing a slice of 21 000 structs while decoding copies
	// megabytes, a slice of pointers a tenth of it.
	Alerts []*webhookAlert `json:"alerts"`
}

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
}

// partition collects the alerts of one severity of one group.
type partition struct {
	alerts []Alert
	// firingRunbook is the first runbook of a firing alert, the one the
	// reader needs; anyRunbook serves a fully resolved partition.
	firingRunbook, anyRunbook string
	priority                  int
}

func decodeAlertmanager(body []byte) ([]Notification, error) {
	var m webhookMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &Error{Msg: "invalid Alertmanager webhook: " + err.Error()}
	}
	return buildAlertmanager(m)
}

func buildAlertmanager(m webhookMessage) ([]Notification, error) {
	if m.Version != "4" {
		return nil, &Error{Msg: fmt.Sprintf("unsupported Alertmanager webhook version %q (want \"4\")", m.Version)}
	}
	if len(m.Alerts) == 0 {
		return nil, &Error{Msg: "Alertmanager webhook without alerts"}
	}
	if m.TruncatedAlerts < 0 {
		return nil, &Error{Msg: "Alertmanager webhook with negative truncatedAlerts"}
	}

	parts := make(map[Severity]*partition)
	for i, a := range m.Alerts {
		if a == nil { // a null in the list: an alert without a status
			a = &webhookAlert{}
		}
		st, err := parseStatus(a.Status, alertWhere, i)
		if err != nil {
			return nil, err
		}
		// A rule without a severity label still reaches someone: it is
		// treated as a warning, as the Python version did.
		sev := Warning
		if s, ok := a.Labels["severity"]; ok {
			if sev, err = ParseSeverity(s); err != nil {
				return nil, &Error{Msg: alertWhere(i) + ": " + err.Error()}
			}
		}
		prio := 0
		if s, ok := a.Labels["pushover_priority"]; ok {
			p, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || p < 1 || p > 2 {
				return nil, &Error{Msg: fmt.Sprintf("%s: label pushover_priority=%q (want 1 or 2)", alertWhere(i), s)}
			}
			prio = p
		}
		name := a.Labels["alertname"]
		summary := firstNonEmpty(a.Annotations["summary"], a.Annotations["description"], name, "(no summary)")
		fp := a.Fingerprint
		if fp == "" {
			fp = labelsFingerprint(a.Labels)
		}
		p := parts[sev]
		if p == nil {
			// Most groups hold one severity: room for all their alerts.
			p = &partition{alerts: make([]Alert, 0, len(m.Alerts)-i)}
			parts[sev] = p
		}
		p.alerts = append(p.alerts, Alert{
			Status:      st,
			Name:        name,
			Instance:    a.Labels["instance"],
			Summary:     summary,
			Fingerprint: fp,
			StartsAt:    a.StartsAt,
		})
		p.priority = max(p.priority, prio)
		if r := strings.TrimSpace(a.Annotations["runbook_url"]); r != "" {
			if p.firingRunbook == "" && st == Firing {
				p.firingRunbook = r
			}
			if p.anyRunbook == "" {
				p.anyRunbook = r
			}
		}
	}

	var out []Notification
	for _, sev := range severityOrder {
		p := parts[sev]
		if p == nil {
			continue
		}
		// Firing alerts first: they are what the reader must act on.
		byStatus := func(a, b Alert) int { return statusRank(a.Status) - statusRank(b.Status) }
		if !slices.IsSortedFunc(p.alerts, byStatus) {
			slices.SortStableFunc(p.alerts, byStatus)
		}
		status := Resolved
		var pageKeys []string
		for _, a := range p.alerts {
			if a.Status == Firing {
				status = Firing
				pageKeys = append(pageKeys, digest("page", a.Fingerprint, strconv.FormatInt(a.StartsAt.UnixNano(), 10)))
			}
		}
		// The identity covers every alert's fingerprint, status and start,
		// in a sorted order so that it does not depend on the order of the
		// alerts; one hash over all of them, not one per alert.
		ids := make([]alertID, len(p.alerts))
		for i, a := range p.alerts {
			ids[i] = alertID{a.Fingerprint, a.Status, a.StartsAt.UnixNano()}
		}
		slices.SortFunc(ids, compareAlertIDs)
		identity := newStreamDigest()
		identity.parts("alertmanager", m.GroupKey, string(sev), string(status), strconv.Itoa(m.TruncatedAlerts))
		var num [20]byte
		for _, id := range ids {
			identity.parts(id.fingerprint, string(id.status))
			identity.part(strconv.AppendInt(num[:0], id.start, 10))
		}
		// commonAnnotations is not consulted: a runbook common to the group
		// is on every alert already.
		runbook := firstNonEmpty(p.firingRunbook, p.anyRunbook)
		out = append(out, Notification{
			Kind:             KindAlertmanager,
			Severity:         sev,
			Status:           status,
			Source:           alertmanagerSource(p.alerts),
			Alerts:           p.alerts,
			Truncated:        m.TruncatedAlerts,
			RunbookURL:       runbook,
			PushoverPriority: p.priority,
			Thread:           digest("thread", "alertmanager", m.GroupKey, string(sev)),
			Idempotency:      identity.sum(),
			PageKeys:         pageKeys,
		})
	}
	return out, nil
}

// alertWhere names the i-th alert of a group in an error.
func alertWhere(i int) string { return "alert " + strconv.Itoa(i) }

func statusRank(s Status) int {
	if s == Firing {
		return 0
	}
	return 1
}

// alertmanagerSource keeps the Python version's
// alertmanager/<alertname>[/<instance>] for a single alert and names the
// others by count, so a title stays one line. The names are counted with a
// set: a 1 MiB group holds some 21 000 alerts, and a scan of the names seen
// so far for each of them would be quadratic.
func alertmanagerSource(alerts []Alert) string {
	first := alerts[0].Name
	seen := make(map[string]struct{}, len(alerts))
	for _, a := range alerts {
		seen[a.Name] = struct{}{}
	}
	src := "alertmanager/" + firstNonEmpty(first, "(unnamed)")
	if len(seen) > 1 {
		src += fmt.Sprintf(" +%d", len(seen)-1)
	}
	if len(alerts) == 1 && alerts[0].Instance != "" {
		src += "/" + alerts[0].Instance
	}
	return src
}

// simpleMessage is the universal payload of Uptime Kuma and Healthchecks.
// Status is an optional extension: "resolved" ends the incident the source
// opened, which replaces the ntfy message and cancels a Pushover emergency.
type simpleMessage struct {
	Severity   *string `json:"severity"`
	Source     string  `json:"source"`
	Summary    string  `json:"summary"`
	RunbookURL string  `json:"runbook_url"`
	Status     string  `json:"status"`
}

func decodeSimple(body []byte) ([]Notification, error) {
	var m simpleMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &Error{Msg: "invalid simple payload: " + err.Error()}
	}
	return buildSimple(m)
}

func buildSimple(m simpleMessage) ([]Notification, error) {
	if m.Severity == nil {
		return nil, &Error{Msg: "simple payload without severity"}
	}
	sev, err := ParseSeverity(*m.Severity)
	if err != nil {
		return nil, err
	}
	source := strings.TrimSpace(m.Source)
	if source == "" {
		return nil, &Error{Msg: "simple payload without source"}
	}
	summary := strings.TrimSpace(m.Summary)
	if summary == "" {
		return nil, &Error{Msg: "simple payload without summary"}
	}
	status := Firing
	if m.Status != "" {
		if status, err = parseStatus(m.Status, func(int) string { return "simple payload" }, 0); err != nil {
			return nil, err
		}
	}
	runbook := runbookFor(source, strings.TrimSpace(m.RunbookURL))
	return []Notification{{
		Kind:        KindSimple,
		Severity:    sev,
		Status:      status,
		Source:      source,
		Summary:     summary,
		RunbookURL:  runbook,
		Thread:      digest("thread", "simple", source),
		Idempotency: digest("simple", string(sev), source, summary, runbook, string(status)),
	}}, nil
}

// digest hashes length-prefixed parts, so that no two different part lists
// can collide by shifting a separator, and returns 32 hex digits: short
// enough for an ntfy sequence id or a Pushover tag, with 128 bits of
// collision resistance.
func digest(parts ...string) string {
	// On the stack for the usual short parts: a large group computes a
	// digest per firing alert.
	var stack [256]byte
	return sumHex(appendParts(stack[:0], parts...))
}

// appendParts appends each part to buf with its length in front.
func appendParts(buf []byte, parts ...string) []byte {
	for _, p := range parts {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	return buf
}

// sumHex is the first 128 bits of buf's SHA-256, in hex.
func sumHex(buf []byte) string {
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}

// streamDigest is digest for many parts: it hashes them as they come,
// through a buffer, instead of collecting a megabyte first.
type streamDigest struct {
	h   hash.Hash
	buf *bufio.Writer
}

func newStreamDigest() *streamDigest {
	h := sha256.New()
	return &streamDigest{h: h, buf: bufio.NewWriterSize(h, 4096)}
}

func (d *streamDigest) parts(parts ...string) {
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		d.buf.Write(n[:])
		d.buf.WriteString(p)
	}
}

func (d *streamDigest) part(p []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	d.buf.Write(n[:])
	d.buf.Write(p)
}

func (d *streamDigest) sum() string {
	d.buf.Flush()
	var sum [sha256.Size]byte
	return hex.EncodeToString(d.h.Sum(sum[:0])[:16])
}

// alertID is what makes an alert the same one in a retry.
type alertID struct {
	fingerprint string
	status      Status
	start       int64
}

func compareAlertIDs(a, b alertID) int {
	if c := strings.Compare(a.fingerprint, b.fingerprint); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.status), string(b.status)); c != 0 {
		return c
	}
	return cmp.Compare(a.start, b.start)
}

// labelsFingerprint stands in for Alertmanager's fingerprint when a sender
// omits it: a stable hash of the sorted label set.
func labelsFingerprint(labels map[string]string) string {
	var keyStack [16]string
	keys := keyStack[:0]
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var stack [256]byte
	buf := appendParts(stack[:0], "labels")
	for _, k := range keys {
		buf = appendParts(buf, k, labels[k])
	}
	return sumHex(buf)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
