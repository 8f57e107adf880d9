// Package handler is alert_sink's core: it authenticates a webhook, decodes
// it, routes each notification by severity and delivers it, idempotently, to
// Pushover and ntfy. The Lambda Function URL adapter (FunctionURL) and the
// plain HTTP adapter (ServeHTTP) are thin wrappers over Handle, so the tests
// of one cover the other.
//
// Routing table:
//
//	severity  firing                                  resolved
//	critical  Pushover priority 1 (2 if emergency)    ntfy priority 3, replacing the firing message;
//	          and ntfy priority 5                     Pushover emergency cancelled
//	warning   ntfy priority 3                         ntfy priority 3, replacing the firing message
//	info      dropped (2xx)                           dropped (2xx)
//
// A transport that still fails after its retries makes the answer 502, so
// the caller retries; a retry skips every transport that already delivered.
package handler

import "context"
import "crypto/sha256"
import "crypto/subtle"
import "encoding/json"
import "errors"
import "log/slog"
import "net/http"
import "strings"
import "sync"
import "time"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"
import "github.com/cabalmail/mailtier/lambda/alert_sink/payload"

// DefaultMaxBody bounds a request body. Alertmanager's largest group with
// max_alerts 10 is a few kilobytes; a Function URL accepts up to 6 MB.
const DefaultMaxBody = 1 << 20

// Config is what a Handler needs. Pushover or Ntfy may be nil when that
// transport is not configured; its deliveries are then reported as
// "disabled".
type Config struct {
	// Secret is the shared secret callers present. It must not be empty.
	Secret   string
	Pushover *notify.Pushover
	Ntfy     *notify.Ntfy

	// Emergency sends critical alerts with Pushover priority 2, which
	// re-alerts every EmergencyRetry until acknowledged or EmergencyExpire
	// has passed. An alert's pushover_priority label overrides it.
	Emergency       bool
	EmergencyRetry  time.Duration
	EmergencyExpire time.Duration

	// AlertmanagerTTL is how long a delivered Alertmanager notification is
	// remembered. It must cover Alertmanager's retries (up to its next
	// group_interval) and stay below repeat_interval, so that reminders
	// still go out.
	AlertmanagerTTL time.Duration
	// SimpleTTL is the same for simple payloads. Their key is their content,
	// so it is kept short: a monitor that goes down twice in a row with the
	// same text must notify twice.
	SimpleTTL time.Duration

	// Records holds the idempotency records. Nil means a Memory store,
	// which is exact for one instance; instances that may run side by
	// side (a Lambda with concurrency above 1) must share one, such as
	// dedupe.DynamoDB.
	Records dedupe.Store
	// ClaimLease bounds how long a claimed delivery may take before another
	// request may take it over. Zero means the transports' longest
	// MaxDuration plus leaseMargin.
	ClaimLease time.Duration
	// ClaimPoll is how often a request waiting for another one's claim
	// looks again; zero means 100ms.
	ClaimPoll time.Duration

	MaxBody int64
	Now     func() time.Time
	Logger  *slog.Logger
}

// leaseMargin is added to the transports' own worst case to make the
// default ClaimLease: a claim must outlast the attempt it covers.
const leaseMargin = 2 * time.Second

// Handler serves alert_sink's webhook. Create it with New.
type Handler struct {
	cfg        Config
	secretHash [sha256.Size]byte

	// records: "d|" + idempotency key + "|" + transport for deliveries,
	// "p|" + page key for alerts already sent to Pushover.
	records  dedupe.Store
	receipts *dedupe.Cache[[]string] // thread → Pushover emergency receipts
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Secret == "" {
		return nil, errors.New("empty shared secret")
	}
	if cfg.Pushover == nil && cfg.Ntfy == nil {
		return nil, errors.New("no transport configured: need Pushover, ntfy or both")
	}
	if cfg.Emergency || cfg.EmergencyRetry != 0 || cfg.EmergencyExpire != 0 {
		if err := CheckEmergency(cfg.EmergencyRetry, cfg.EmergencyExpire); err != nil {
			return nil, err
		}
	}
	if cfg.AlertmanagerTTL <= 0 || cfg.SimpleTTL <= 0 {
		return nil, errors.New("idempotency TTLs must be positive")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Records == nil {
		cfg.Records = dedupe.NewMemory(cfg.Now)
	}
	if cfg.ClaimLease <= 0 {
		var worst time.Duration
		if cfg.Pushover != nil {
			worst = max(worst, cfg.Pushover.Policy.MaxDuration())
		}
		if cfg.Ntfy != nil {
			worst = max(worst, cfg.Ntfy.Policy.MaxDuration())
		}
		cfg.ClaimLease = worst + leaseMargin
	}
	if cfg.ClaimPoll <= 0 {
		cfg.ClaimPoll = 100 * time.Millisecond
	}
	return &Handler{
		cfg:        cfg,
		secretHash: sha256.Sum256([]byte(cfg.Secret)),
		records:    cfg.Records,
		receipts:   dedupe.New[[]string](cfg.Now),
	}, nil
}

// CheckEmergency enforces Pushover's bounds on emergency retry and expire.
func CheckEmergency(retry, expire time.Duration) error {
	switch {
	case retry < notify.PushoverMinRetry:
		return errors.New("pushover emergency retry must be at least 30s")
	case expire > notify.PushoverMaxExpire:
		return errors.New("pushover emergency expire must be at most 3h")
	case expire < retry:
		return errors.New("pushover emergency expire must not be shorter than retry")
	}
	return nil
}

// Request is a webhook call as both adapters see it.
type Request struct {
	Method string
	// Header returns a header's value, matching the name in any case.
	Header func(name string) string
	// ReadBody is called only after the caller is authenticated. It returns
	// errBodyTooLarge past the configured limit.
	ReadBody func() ([]byte, error)
	// Remote identifies the caller in logs.
	Remote string
}

// Response is the answer both adapters send.
type Response struct {
	Status int
	Header map[string]string
	Body   []byte
}

var errBodyTooLarge = errors.New("request body too large")

// Result is the JSON body of an authenticated, well-formed request's answer.
type Result struct {
	Status        string               `json:"status"` // "ok" or "failed"
	Notifications []NotificationResult `json:"notifications"`
}

// NotificationResult reports one notification.
type NotificationResult struct {
	Source   string `json:"source"`
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Alerts   int    `json:"alerts,omitempty"`
	// Outcome is dropped, delivered, duplicate, no-transport or failed.
	Outcome string `json:"outcome"`
	// Transports holds sent, cancelled, duplicate, already-paged,
	// disabled or failed; Errors, what a failed transport said.
	Transports PerTransport `json:"transports,omitempty"`
	Errors     PerTransport `json:"errors,omitempty"`
}

// PerTransport holds a text per transport, by its name: pushover, ntfy.
type PerTransport map[string]string

// Outcomes of a transport (sent … failed) and of a notification (dropped,
// delivered, no-transport, duplicate, failed).
const (
	outSent         = "sent"
	outCancelled    = "cancelled"
	outDuplicate    = "duplicate"
	outAlreadyPaged = "already-paged"
	outDisabled     = "disabled"
	outFailed       = "failed"

	outDropped     = "dropped"
	outDelivered   = "delivered"
	outNoTransport = "no-transport"
)

// Handle runs one webhook call. The headers are checked before the body is
// read, so an unauthenticated caller cannot make the function read or parse
// anything.
func (h *Handler) Handle(ctx context.Context, req Request) Response {
	log := h.cfg.Logger
	if !h.authorized(req.Header) {
		log.Warn("request rejected", "reason", "unauthorized", "remote", req.Remote)
		resp := message(http.StatusUnauthorized, "invalid or missing X-Alert-Secret / Authorization header")
		resp.Header["WWW-Authenticate"] = `Bearer realm="alert_sink"`
		return resp
	}
	if req.Method != http.MethodPost {
		resp := message(http.StatusMethodNotAllowed, "use POST")
		resp.Header["Allow"] = http.MethodPost
		return resp
	}
	body, err := req.ReadBody()
	if errors.Is(err, errBodyTooLarge) {
		log.Warn("request rejected", "reason", "body too large", "remote", req.Remote)
		return message(http.StatusRequestEntityTooLarge, err.Error())
	}
	if err != nil {
		log.Warn("request rejected", "reason", "unreadable body", "remote", req.Remote, "err", err)
		return message(http.StatusBadRequest, "unreadable body: "+err.Error())
	}
	notes, err := payload.Decode(body)
	if err != nil {
		log.Warn("request rejected", "reason", "bad payload", "remote", req.Remote, "err", err)
		return message(http.StatusBadRequest, err.Error())
	}

	res := Result{Status: "ok", Notifications: make([]NotificationResult, len(notes))}
	var wg sync.WaitGroup
	for i := range notes {
		wg.Go(func() { res.Notifications[i] = h.deliver(ctx, notes[i]) })
	}
	wg.Wait()

	status := http.StatusOK
	for _, n := range res.Notifications {
		if n.Outcome == outFailed {
			res.Status = "failed"
			status = http.StatusBadGateway
		}
	}
	return jsonResponse(status, res)
}

// authorized compares the presented secret with the configured one in time
// that does not depend on where they differ. Hashing both first also hides
// the secret's length.
func (h *Handler) authorized(header func(string) string) bool {
	got := header("X-Alert-Secret")
	if got == "" {
		auth := header("Authorization")
		if len(auth) > len("bearer ") && strings.EqualFold(auth[:len("bearer ")], "bearer ") {
			got = strings.TrimSpace(auth[len("bearer "):])
		}
	}
	if got == "" {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.secretHash[:]) == 1
}

func message(status int, msg string) Response {
	return jsonResponse(status, map[string]string{"message": msg})
}

func jsonResponse(status int, v any) Response {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain strings and maps are marshalled; this cannot happen.
		panic(err)
	}
	return Response{
		Status: status,
		Header: map[string]string{"Content-Type": "application/json"},
		Body:   body,
	}
}
