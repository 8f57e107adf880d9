// Package notify holds the two transports alert_sink delivers to, Pushover
// and ntfy, and the bounded retry both use.
//
// Each call runs under a Policy: a timeout per attempt and a fixed number of
// attempts, so a slow or failing transport can never outlive the Lambda's own
// timeout. Only transient failures are retried (network errors, timeouts,
// 408, 429 and 5xx); a 4xx answer is final, because sending the same request
// again cannot change it. Every error text is scrubbed of the credentials the
// client holds before it leaves this package, so callers may log it.
package notify

import "context"
import "errors"
import "fmt"
import "net/http"
import "strings"
import "time"

// Policy bounds one transport call.
type Policy struct {
	// Attempts is the number of tries, at least 1.
	Attempts int
	// Timeout limits each attempt.
	Timeout time.Duration
	// Backoff is the pause before the second attempt; it doubles after each
	// further failure. Zero retries at once.
	Backoff time.Duration
}

// DefaultPolicy keeps a call to a dead transport (three attempts of 2.5 s
// with 250 ms and 500 ms pauses) under 8.3 s, inside the Lambda's 10 s
// timeout, with both transports tried in parallel.
var DefaultPolicy = Policy{Attempts: 3, Timeout: 2500 * time.Millisecond, Backoff: 250 * time.Millisecond}

// MaxDuration is the longest a call under p can take.
func (p Policy) MaxDuration() time.Duration {
	d := time.Duration(max(p.Attempts, 1)) * p.Timeout
	b := p.Backoff
	for i := 1; i < p.Attempts; i++ {
		d += b
		b *= 2
	}
	return d
}

// StatusError is a transport's non-success HTTP answer.
type StatusError struct {
	Code   int
	Detail string
}

func (e *StatusError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Detail)
}

// permanentError marks a failure that another attempt cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// retryable reports whether an HTTP status is worth another attempt.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Do runs op until it succeeds, fails permanently, runs out of attempts or
// ctx ends. Each attempt gets its own context limited by p.Timeout. The
// returned error says how many attempts were made.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) error {
	attempts := max(p.Attempts, 1)
	backoff := p.Backoff
	var err error
	for i := 1; ; i++ {
		actx, cancel := context.WithTimeout(ctx, p.Timeout)
		err = op(actx)
		cancel()
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("attempt %d of %d, not retried: %w", i, attempts, perm.err)
		}
		if i == attempts || ctx.Err() != nil {
			return fmt.Errorf("attempt %d of %d: %w", i, attempts, err)
		}
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("attempt %d of %d: %w", i, attempts, err)
			case <-t.C:
			}
			backoff *= 2
		}
	}
}

// redactor removes secrets from text that may reach a log line or an HTTP
// response: a transport may echo a token back, and url.Error carries the
// request URL.
type redactor []string

// minRedact is the shortest value redacted. Real credentials are far longer
// (Pushover's are 30 characters, ntfy's 32); replacing every occurrence of
// a one- or two-letter test value would turn error texts into noise.
const minRedact = 6

func (r redactor) clean(s string) string {
	for _, secret := range r {
		if len(secret) >= minRedact {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

// scrub returns err with its text cleaned. It is applied to what a client
// returns, after Do has classified the failure.
func (r redactor) scrub(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(r.clean(err.Error()))
}
