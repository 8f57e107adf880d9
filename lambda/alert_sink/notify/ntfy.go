package notify

import "context"
import "fmt"
import "io"
import "net/http"
import "net/url"
import "strconv"
import "strings"

// ntfyMaxMessage is ntfy's default message-size-limit in bytes. A longer
// body is turned into an attachment by the server, which a phone shows as a
// file instead of text.
const ntfyMaxMessage = 4096

// ntfyMaxTitle keeps titles to what a notification shows on one line; ntfy
// itself sets no limit below the header size.
const ntfyMaxTitle = 250

// Ntfy publishes to one topic of an ntfy server.
type Ntfy struct {
	BaseURL string // e.g. https://ntfy.example.com
	Topic   string
	// Token is the publisher's access token; empty for an open topic.
	Token  string
	Client *http.Client
	Policy Policy
}

// NtfyMessage is one ntfy publication.
type NtfyMessage struct {
	Title    string
	Message  string
	Priority int // 1 (min) to 5 (max)
	Tags     []string
	Click    string
	// SequenceID makes ntfy 2.16 and later replace the earlier message of
	// the same sequence instead of adding one; older servers ignore it.
	SequenceID string
}

// Publish sends m.
func (n *Ntfy) Publish(ctx context.Context, m NtfyMessage) error {
	endpoint := strings.TrimRight(n.BaseURL, "/") + "/" + url.PathEscape(n.Topic)
	body := truncateBytes(cleanText(m.Message), ntfyMaxMessage)
	err := n.Policy.Do(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
		if err != nil {
			return permanent(err)
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		req.Header.Set("Title", headerValue(truncateRunes(oneLine(m.Title), ntfyMaxTitle)))
		req.Header.Set("Priority", strconv.Itoa(m.Priority))
		if tags := ntfyTags(m.Tags); tags != "" {
			req.Header.Set("Tags", tags)
		}
		if u := webURL(m.Click); u != "" {
			req.Header.Set("Click", u)
		}
		if m.SequenceID != "" {
			req.Header.Set("X-Sequence-ID", m.SequenceID)
		}
		if n.Token != "" {
			req.Header.Set("Authorization", "Bearer "+n.Token)
		}
		resp, err := n.Client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		reply, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		if err != nil {
			return err
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			serr := &StatusError{Code: resp.StatusCode, Detail: truncateRunes(oneLine(string(reply)), 200)}
			if retryable(resp.StatusCode) {
				return serr
			}
			return permanent(serr)
		}
		return nil
	})
	if err != nil {
		return redactor{n.Token}.scrub(fmt.Errorf("ntfy: %w", err))
	}
	return nil
}

// ntfyTags joins tags for the Tags header. ntfy splits the header on commas,
// so a comma inside a tag would make two.
func ntfyTags(tags []string) string {
	clean := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(strings.ReplaceAll(oneLine(t), ",", " "))
		if t != "" {
			clean = append(clean, t)
		}
	}
	return headerValue(strings.Join(clean, ","))
}
