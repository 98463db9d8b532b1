package slack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The direct posts (post.go: chat.postMessage, a response_url) go out through the
// configured client's Transport, called straight, not through Client.Do: with a Timeout
// and a Transport that is not net/http's own (cmd's counting one), Client.Do arms a timer,
// a cancel channel and a context per request, and copies the request and its headers, for
// a deadline the caller's context already sets. What the client did that matters is kept:
//
//   - the deadline: the context's, bounded by the client's Timeout when it has none as
//     early (bound), so a post never waits longer than through the client;
//   - a post sent again on a fresh connection when a kept-alive one turns out to be
//     closed: that is the Transport's work, with GetBody, set here as NewRequest sets it;
//   - the metrics: they are counted by the Transport (cmd's countingTransport);
//   - errors as *url.Error ("Post <url>: …"), as Client.Do returns them.
//
// Redirects are not followed: Slack's Web API and its response_urls answer a POST, they
// do not redirect it, and following one would either re-send the form, token included,
// wherever the Location points (307, 308) or turn the post into a GET that posts nothing
// (301 to 303; slack-go's client does that). A 3xx is an error with its status
// (slack.StatusCodeError), as any other status but 200. The client's Jar is not used
// either: Slack sets no cookies for the Web API.
type direct struct {
	rt      http.RoundTripper
	timeout time.Duration // the client's Timeout; 0: none
	// post is chat.postMessage's request without context and body, and ephemeral a
	// response_url post's without URL too: each post sends its own copy (WithContext),
	// since the Transport keeps a request until its answer is read. Never changed after
	// New: the Transport and any RoundTripper only read a request (net/http's contract),
	// so the copies may share the URL and the header map.
	post, ephemeral http.Request
	postURL         string // chat.postMessage's URL without password, for errors
}

func newDirect(client *http.Client, apiURL string) (direct, error) {
	d := direct{rt: client.Transport, timeout: client.Timeout}
	if d.rt == nil {
		d.rt = http.DefaultTransport
	}
	post, err := http.NewRequest(http.MethodPost, apiURL+"chat.postMessage", nil)
	if err != nil {
		return d, fmt.Errorf("slack: API URL: %w", err)
	}
	post.Header["Content-Type"] = []string{formContentType}
	d.post, d.postURL = *post, post.URL.Redacted()
	// What NewRequest makes of a POST but its URL.
	d.ephemeral = http.Request{Method: http.MethodPost, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
	return d, nil
}

// nop is a context.CancelFunc with nothing to release.
func nop() {}

// bound returns ctx with the client's Timeout as its deadline when it has none as early,
// and what releases it.
func (d *direct) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout > 0 {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > d.timeout {
			return context.WithTimeout(ctx, d.timeout)
		}
	}
	return ctx, nop
}

// send posts body with a copy of tmpl bound to ctx, to u when not nil. The caller wraps
// an error in a *url.Error, and reads and closes the answer before ctx ends.
func (d *direct) send(ctx context.Context, tmpl *http.Request, u *url.URL, body []byte) (*http.Response, error) {
	req := tmpl.WithContext(ctx)
	if u != nil {
		req.URL, req.Host = u, strings.TrimSuffix(u.Host, ":") // as NewRequest sets Host
	}
	b := &postBody{body: body}
	b.Reset(body)
	req.Body, req.GetBody, req.ContentLength = b, b.again, int64(len(body))
	resp, err := d.rt.RoundTrip(req)
	switch {
	case err != nil:
		return nil, err
	case resp == nil:
		// A RoundTripper that breaks its contract (Client.Do checks this too).
		return nil, fmt.Errorf("%T returned no answer and no error", d.rt)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// postBody is a post's body: read once by the Transport, made again (again, its GetBody)
// when the Transport sends the post a second time on a fresh connection. The bytes are
// never changed, so both readers may share them.
type postBody struct {
	bytes.Reader
	body []byte
}

func (*postBody) Close() error { return nil }

func (b *postBody) again() (io.ReadCloser, error) {
	nb := &postBody{body: b.body}
	nb.Reset(b.body)
	return nb, nil
}
