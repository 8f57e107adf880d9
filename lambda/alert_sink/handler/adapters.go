package handler

import "context"
import "encoding/base64"
import "errors"
import "io"
import "net/http"
import "strings"

import "github.com/aws/aws-lambda-go/events"

// ServeHTTP serves the webhook in HTTP mode. The body is read only through
// Request.ReadBody, after the headers have passed authentication.
//
// Delivery is detached from the caller's connection: a caller that gives up
// must not cut a notification off half-way, leaving it unrecorded and sent
// twice on the retry. The transports' own timeouts still bound it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp := h.Handle(context.WithoutCancel(r.Context()), Request{
		Method: r.Method,
		Header: r.Header.Get,
		ReadBody: func() ([]byte, error) {
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, errBodyTooLarge
			}
			return b, err
		},
		Remote: r.RemoteAddr,
	})
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// FunctionURL serves the webhook behind a Lambda Function URL in BUFFERED
// invoke mode. It never returns an error: every outcome is an HTTP answer,
// so the caller sees the real status instead of the URL's generic 502.
func (h *Handler) FunctionURL(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	resp := h.Handle(ctx, Request{
		Method: ev.RequestContext.HTTP.Method,
		Header: func(name string) string {
			// Function URLs lower-case header names; other senders of the
			// event may not.
			if v, ok := ev.Headers[strings.ToLower(name)]; ok {
				return v
			}
			for k, v := range ev.Headers {
				if strings.EqualFold(k, name) {
					return v
				}
			}
			return ""
		},
		ReadBody: func() ([]byte, error) {
			b := []byte(ev.Body)
			if ev.IsBase64Encoded {
				var err error
				if b, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					return nil, err
				}
			}
			if int64(len(b)) > h.cfg.MaxBody {
				return nil, errBodyTooLarge
			}
			return b, nil
		},
		Remote: ev.RequestContext.HTTP.SourceIP,
	})
	return events.LambdaFunctionURLResponse{
		StatusCode: resp.Status,
		Headers:    resp.Header,
		Body:       string(resp.Body),
	}, nil
}
