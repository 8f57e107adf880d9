package notify

import "context"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "strconv"
import "strings"
import "time"

// PushoverAPI is Pushover's API base; the client appends /messages.json and
// /receipts/... to it.
const PushoverAPI = "https://api.pushover.net/1"

// Pushover's field limits (pushover.net/api), in characters.
const (
	pushoverMaxTitle    = 250
	pushoverMaxMessage  = 1024
	pushoverMaxURL      = 512
	pushoverMaxURLTitle = 100
)

// Emergency priority bounds set by Pushover: it re-alerts every Retry
// (at least 30 s) until acknowledged or Expire (at most 3 h) has passed.
const (
	PushoverMinRetry  = 30 * time.Second
	PushoverMaxExpire = 3 * time.Hour
)

// maxResponse caps how much of a transport's answer is read: enough for any
// real reply, small enough that a broken server cannot fill the memory.
const maxResponse = 64 << 10

// Pushover sends messages through Pushover's message API.
type Pushover struct {
	// BaseURL is PushoverAPI unless overridden for tests or a proxy.
	BaseURL string
	Token   string // application token
	User    string // user or group key
	Client  *http.Client
	Policy  Policy
}

// PushoverMessage is one Pushover notification.
type PushoverMessage struct {
	Title    string
	Message  string
	URL      string
	URLTitle string
	// Priority is 1 (high) or 2 (emergency).
	Priority int
	// Retry, Expire and Tag apply to priority 2 only. Tag lets every
	// emergency of one incident be cancelled at once, even after the
	// receipts were lost with a cold start.
	Retry  time.Duration
	Expire time.Duration
	Tag    string
}

// pushoverReply is the JSON every Pushover endpoint answers with.
type pushoverReply struct {
	Status  int      `json:"status"`
	Receipt string   `json:"receipt"`
	Errors  []string `json:"errors"`
}

// Send delivers m and returns the receipt Pushover issues for an emergency
// message ("" for others).
func (p *Pushover) Send(ctx context.Context, m PushoverMessage) (string, error) {
	form := url.Values{
		"token":    {p.Token},
		"user":     {p.User},
		"title":    {truncateRunes(oneLine(m.Title), pushoverMaxTitle)},
		"message":  {truncateRunes(cleanText(m.Message), pushoverMaxMessage)},
		"priority": {strconv.Itoa(m.Priority)},
	}
	// A URL cut short would lead nowhere; one that is too long is left out.
	if u := webURL(m.URL); u != "" && len([]rune(u)) <= pushoverMaxURL {
		form.Set("url", u)
		if m.URLTitle != "" {
			form.Set("url_title", truncateRunes(oneLine(m.URLTitle), pushoverMaxURLTitle))
		}
	}
	if m.Priority == 2 {
		form.Set("retry", strconv.Itoa(int(m.Retry/time.Second)))
		form.Set("expire", strconv.Itoa(int(m.Expire/time.Second)))
		if m.Tag != "" {
			form.Set("tags", m.Tag)
		}
	}
	var reply pushoverReply
	err := p.Policy.Do(ctx, func(ctx context.Context) error {
		var err error
		reply, err = p.post(ctx, "/messages.json", form)
		return err
	})
	if err != nil {
		return "", p.redactor().scrub(fmt.Errorf("pushover: %w", err))
	}
	return reply.Receipt, nil
}

// Cancel stops the retries of the emergency message with receipt.
func (p *Pushover) Cancel(ctx context.Context, receipt string) error {
	return p.cancel(ctx, "/receipts/"+url.PathEscape(receipt)+"/cancel.json")
}

// CancelByTag stops the retries of every emergency message sent with tag.
func (p *Pushover) CancelByTag(ctx context.Context, tag string) error {
	return p.cancel(ctx, "/receipts/cancel_by_tag/"+url.PathEscape(tag)+".json")
}

func (p *Pushover) cancel(ctx context.Context, path string) error {
	form := url.Values{"token": {p.Token}}
	err := p.Policy.Do(ctx, func(ctx context.Context) error {
		_, err := p.post(ctx, path, form)
		// Not found means the receipt is already over: acknowledged,
		// expired or cancelled. What the cancel was for is achieved, and
		// failing would make the caller retry a resolution forever.
		var serr *StatusError
		if errors.As(err, &serr) && serr.Code == http.StatusNotFound {
			return nil
		}
		return err
	})
	if err != nil {
		return p.redactor().scrub(fmt.Errorf("pushover cancel: %w", err))
	}
	return nil
}

func (p *Pushover) post(ctx context.Context, path string, form url.Values) (pushoverReply, error) {
	var reply pushoverReply
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = PushoverAPI
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return reply, permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.Client.Do(req)
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return reply, err
	}
	jsonErr := json.Unmarshal(body, &reply)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		detail := strings.Join(reply.Errors, "; ")
		if jsonErr != nil || detail == "" {
			detail = strings.TrimSpace(string(body))
		}
		serr := &StatusError{Code: resp.StatusCode, Detail: truncateRunes(oneLine(detail), 200)}
		if retryable(resp.StatusCode) {
			return reply, serr
		}
		return reply, permanent(serr)
	}
	// A 2xx that is not Pushover's JSON means the URL points elsewhere;
	// sending again would not help and might deliver twice.
	if jsonErr != nil {
		return reply, permanent(fmt.Errorf("unreadable answer: %w", jsonErr))
	}
	if reply.Status != 1 {
		msg := "status " + strconv.Itoa(reply.Status)
		if len(reply.Errors) > 0 {
			msg += ": " + strings.Join(reply.Errors, "; ")
		}
		return reply, permanent(errors.New(msg))
	}
	return reply, nil
}

func (p *Pushover) redactor() redactor { return redactor{p.Token, p.User} }
