package handler

import "context"
import "errors"
import "fmt"
import "log/slog"
import "slices"
import "strings"
import "sync"
import "time"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"
import "github.com/cabalmail/mailtier/lambda/alert_sink/payload"

// Transport names, as they appear in logs and answers.
const (
	transportPushover = "pushover"
	transportNtfy     = "ntfy"
)

// ntfy priorities of the routing table.
const (
	ntfyPriorityCritical = 5
	ntfyPriorityWarning  = 3
	ntfyPriorityResolved = 3
)

// maxPageRecords bounds the page records one notification reads and
// writes, one request to the records each: enough for any group sent with
// a sensible max_alerts, and a bounded cost (well under a second against
// DynamoDB) for a huge one. A notification with more firing alerts pages
// whenever it is not a retry, as if none had been paged.
const maxPageRecords = 50

// receiptMargin keeps a receipt a while past its emergency's expiry, so a
// resolution that arrives just then still cancels cleanly.
const receiptMargin = time.Hour

// step is one transport's part of a notification.
type step struct {
	name string
	run  func(ctx context.Context) (outcome string, err error)
}

// deliver routes n, runs its transports in parallel and logs one line.
func (h *Handler) deliver(ctx context.Context, n payload.Notification) NotificationResult {
	res := NotificationResult{
		Source:   n.Source,
		Severity: string(n.Severity),
		Status:   string(n.Status),
		Alerts:   len(n.Alerts),
	}
	steps := h.route(n)
	if len(steps) == 0 {
		res.Outcome = outDropped
		h.log(n, res)
		return res
	}

	ttl := h.cfg.SimpleTTL
	if n.Kind == payload.KindAlertmanager {
		ttl = h.cfg.AlertmanagerTTL
	}
	res.Transports = make(map[string]string, len(steps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range steps {
		wg.Go(func() {
			outcome, err := h.once(ctx, "d|"+n.Idempotency+"|"+s.name, ttl, s.run)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				outcome = outFailed
				if res.Errors == nil {
					res.Errors = make(map[string]string)
				}
				res.Errors[s.name] = err.Error()
			}
			res.Transports[s.name] = outcome
		})
	}
	wg.Wait()
	res.Outcome = overall(res.Transports)
	h.log(n, res)
	return res
}

// errInProgress is the failure of a request that waited in vain for
// another one delivering the same notification: the caller retries.
var errInProgress = errors.New("another request is delivering this notification")

// once runs one transport's step for the notification behind key at most
// once across every request and instance sharing the records: it claims
// the key, runs the step, and records it done, or releases the claim when
// the step failed so that a retry may run it. A request that finds the key
// claimed by another waits for that one to finish or its lease to lapse.
//
// When the records cannot be reached the step runs anyway: a duplicate is
// better than a lost alert.
func (h *Handler) once(ctx context.Context, key string, ttl time.Duration, run func(context.Context) (string, error)) (string, error) {
	waitCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		// Leave time to answer before the function's own timeout.
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, dl.Add(-time.Second))
		defer cancel()
	}
	for {
		c, err := h.records.Claim(ctx, key, h.cfg.ClaimLease)
		if err != nil {
			h.cfg.Logger.Warn("idempotency records unavailable: delivering without them", "err", err)
			return run(ctx)
		}
		switch c.State {
		case dedupe.AlreadyDone:
			return outDuplicate, nil
		case dedupe.HeldElsewhere:
			select {
			case <-waitCtx.Done():
				return "", errInProgress
			case <-time.After(h.cfg.ClaimPoll):
			}
			continue
		}
		outcome, err := run(ctx)
		if err != nil || outcome == outDisabled {
			if rerr := h.records.Release(ctx, c); rerr != nil {
				h.cfg.Logger.Warn("idempotency record not released: a retry waits for its lease", "err", rerr)
			}
			return outcome, err
		}
		if derr := h.records.Done(ctx, key, ttl); derr != nil {
			h.cfg.Logger.Warn("delivered but not recorded: a retry may deliver again", "err", derr)
		}
		return outcome, nil
	}
}

// overall sums up transport outcomes: any failure fails the notification;
// nothing enabled means nobody was told; nothing new means a duplicate.
func overall(t map[string]string) string {
	enabled, fresh := 0, 0
	for _, o := range t {
		switch o {
		case outFailed:
			return outFailed
		case outDisabled:
		case outDuplicate, outAlreadyPaged:
			enabled++
		default:
			enabled++
			fresh++
		}
	}
	switch {
	case enabled == 0:
		return outNoTransport
	case fresh == 0:
		return outDuplicate
	}
	return outDelivered
}

// route applies the routing table to n.
func (h *Handler) route(n payload.Notification) []step {
	var steps []step
	switch {
	case n.Severity == payload.Info:
		return nil
	case n.Severity == payload.Critical && n.Status == payload.Firing:
		steps = append(steps, step{transportPushover, func(ctx context.Context) (string, error) { return h.page(ctx, n) }})
	case n.Severity == payload.Critical && h.mayHaveEmergency(n):
		steps = append(steps, step{transportPushover, func(ctx context.Context) (string, error) { return h.cancelEmergency(ctx, n) }})
	}
	prio := ntfyPriorityWarning
	switch {
	case n.Status == payload.Resolved:
		prio = ntfyPriorityResolved
	case n.Severity == payload.Critical:
		prio = ntfyPriorityCritical
	}
	steps = append(steps, step{transportNtfy, func(ctx context.Context) (string, error) { return h.publish(ctx, n, prio) }})
	return steps
}

// pushoverPriority is 2 for an emergency, else 1.
func (h *Handler) pushoverPriority(n payload.Notification) int {
	if n.PushoverPriority != 0 {
		return n.PushoverPriority
	}
	if h.cfg.Emergency {
		return 2
	}
	return 1
}

// mayHaveEmergency reports whether a resolved critical notification may
// have an emergency to cancel: one was recorded, or the settings would have
// sent one.
func (h *Handler) mayHaveEmergency(n payload.Notification) bool {
	if _, ok := h.receipts.Get(n.Thread); ok {
		return true
	}
	return h.pushoverPriority(n) == 2
}

// page sends a firing critical notification to Pushover, unless every
// firing alert in it was already paged: an update that only reports a
// partial resolution must not wake anyone.
func (h *Handler) page(ctx context.Context, n payload.Notification) (string, error) {
	if h.cfg.Pushover == nil {
		return outDisabled, nil
	}
	if len(n.PageKeys) > 0 && len(n.PageKeys) <= maxPageRecords && h.allPaged(ctx, n.PageKeys) {
		return outAlreadyPaged, nil
	}
	m := notify.PushoverMessage{
		Title:    title(n),
		Message:  body(n),
		URL:      n.RunbookURL,
		URLTitle: "Runbook",
		Priority: h.pushoverPriority(n),
	}
	if m.Priority == 2 {
		m.Retry, m.Expire, m.Tag = h.cfg.EmergencyRetry, h.cfg.EmergencyExpire, n.Thread
	}
	receipt, err := h.cfg.Pushover.Send(ctx, m)
	if err != nil {
		return "", err
	}
	for _, k := range n.PageKeys[:min(len(n.PageKeys), maxPageRecords)] {
		if err := h.records.Done(ctx, "p|"+k, h.cfg.AlertmanagerTTL); err != nil {
			h.cfg.Logger.Warn("page not recorded: a partial resolution may page again", "err", err)
			break
		}
	}
	if receipt != "" {
		h.receipts.Update(n.Thread, h.cfg.EmergencyExpire+receiptMargin, func(old []string) []string {
			return append(old, receipt)
		})
	}
	return outSent, nil
}

// allPaged reports whether every key was recorded as paged. When the
// records cannot be read it answers false: paging twice is better than not
// paging.
func (h *Handler) allPaged(ctx context.Context, keys []string) bool {
	for _, k := range keys {
		done, err := h.records.IsDone(ctx, "p|"+k)
		if err != nil {
			h.cfg.Logger.Warn("idempotency records unavailable: paging without them", "err", err)
			return false
		}
		if !done {
			return false
		}
	}
	return true
}

// cancelEmergency stops the emergency retries of a resolved incident: by
// receipt when this instance sent them, else by tag, which also reaches
// emergencies sent before a cold start.
func (h *Handler) cancelEmergency(ctx context.Context, n payload.Notification) (string, error) {
	if h.cfg.Pushover == nil {
		return outDisabled, nil
	}
	receipts, ok := h.receipts.Get(n.Thread)
	if !ok {
		if err := h.cfg.Pushover.CancelByTag(ctx, n.Thread); err != nil {
			return "", err
		}
		return outCancelled, nil
	}
	var left []string
	var firstErr error
	for _, r := range receipts {
		if err := h.cfg.Pushover.Cancel(ctx, r); err != nil {
			left = append(left, r)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if len(left) > 0 {
		// Keep what failed for the caller's retry; drop what is done.
		h.receipts.Set(n.Thread, left, h.cfg.EmergencyExpire+receiptMargin)
		return "", firstErr
	}
	h.receipts.Delete(n.Thread)
	return outCancelled, nil
}

// publish sends n to ntfy under its thread's sequence id, so a resolution
// or an update replaces the earlier message.
func (h *Handler) publish(ctx context.Context, n payload.Notification, priority int) (string, error) {
	if h.cfg.Ntfy == nil {
		return outDisabled, nil
	}
	err := h.cfg.Ntfy.Publish(ctx, notify.NtfyMessage{
		Title:      title(n),
		Message:    body(n),
		Priority:   priority,
		Tags:       tags(n),
		Click:      n.RunbookURL,
		SequenceID: n.Thread,
	})
	if err != nil {
		return "", err
	}
	return outSent, nil
}

// log writes the one line per notification: where, how bad, which
// transports did what, and the outcome.
func (h *Handler) log(n payload.Notification, res NotificationResult) {
	names := make([]string, 0, len(res.Transports))
	for name := range res.Transports {
		names = append(names, name)
	}
	slices.Sort(names)
	var parts []string
	for _, name := range names {
		parts = append(parts, name+"="+res.Transports[name])
	}
	// "alert_source", not "source": slog and promslog reserve "source"
	// for the code location and would rename the field.
	attrs := []any{
		"kind", string(n.Kind),
		"alert_source", n.Source,
		"severity", string(n.Severity),
		"status", string(n.Status),
		"transports", strings.Join(parts, ","),
		"outcome", res.Outcome,
		"thread", n.Thread,
	}
	if n.Kind == payload.KindAlertmanager {
		attrs = append(attrs, "alerts", len(n.Alerts), "truncated", n.Truncated)
	}
	level := slog.LevelInfo
	switch res.Outcome {
	case outFailed:
		level = slog.LevelError
		for _, name := range names {
			if e, ok := res.Errors[name]; ok {
				attrs = append(attrs, "err_"+name, e)
			}
		}
	case outNoTransport:
		level = slog.LevelWarn
	}
	h.cfg.Logger.Log(context.Background(), level, "notification", attrs...)
}

// title is "[SEVERITY] source", or "[RESOLVED] source" once resolved.
func title(n payload.Notification) string {
	label := strings.ToUpper(string(n.Severity))
	if n.Status == payload.Resolved {
		label = "RESOLVED"
	}
	return "[" + label + "] " + n.Source
}

// body is the simple payload's summary, a lone alert's summary, or for a
// group a count line followed by one line per alert. The count line comes
// first so that it survives a transport's length limit.
func body(n payload.Notification) string {
	if n.Kind == payload.KindSimple {
		return n.Summary
	}
	if len(n.Alerts) == 1 && n.Truncated == 0 {
		return n.Alerts[0].Summary
	}
	firing := 0
	for _, a := range n.Alerts {
		if a.Status == payload.Firing {
			firing++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d firing, %d resolved", firing, len(n.Alerts)-firing)
	if n.Truncated > 0 {
		fmt.Fprintf(&b, ", %d more not sent by Alertmanager (max_alerts)", n.Truncated)
	}
	for _, a := range n.Alerts {
		line := strings.Join(strings.Fields(a.Summary), " ")
		if a.Instance != "" && !strings.Contains(line, a.Instance) {
			line += " (" + a.Instance + ")"
		}
		fmt.Fprintf(&b, "\n%s: %s", a.Status, line)
	}
	return b.String()
}

// tags are ntfy's: an emoji for the state, the severity, and where the
// notification came from.
func tags(n payload.Notification) []string {
	emoji := "warning"
	switch {
	case n.Status == payload.Resolved:
		emoji = "white_check_mark"
	case n.Severity == payload.Critical:
		emoji = "rotating_light"
	}
	origin := string(n.Kind)
	if n.Kind == payload.KindSimple {
		// "kuma/IMAP reachable" comes from kuma; a source without a
		// prefix names no origin.
		prefix, _, found := strings.Cut(n.Source, "/")
		origin = ""
		if found {
			origin = prefix
		}
	}
	var out []string
	for _, t := range []string{emoji, string(n.Severity), origin} {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
