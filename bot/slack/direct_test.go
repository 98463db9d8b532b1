package slack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// directPosts are the two direct posts, each to srv: chat.postMessage (the API at
// srv/api/) and a response_url (srv/commands/…).
func directPosts(srvURL string) map[string]func(context.Context, *Adapter) error {
	text, blocks := render(benchPrompt("U1"))
	route, _ := url.Parse(srvURL + "/commands/T1/1/secret")
	return map[string]func(context.Context, *Adapter) error{
		"chat.postMessage": func(ctx context.Context, a *Adapter) error { return a.postMessage(ctx, "D1", text, blocks) },
		"response_url":     func(ctx context.Context, a *Adapter) error { return a.postEphemeral(ctx, route, text, blocks) },
	}
}

// within runs post and fails the test if it has not returned after a while (far longer
// than any deadline the test sets: the machine may be slow, but not that slow).
func within(t *testing.T, post func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- post() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the post did not return: no deadline held it")
		return nil
	}
}

// TestDirectPostDeadline: the direct posts go out through the client's Transport, not
// Client.Do, so the client's Timeout no longer bounds them by itself. A server that never
// answers, or answers its headers and then stops, still ends the post: at the context's
// deadline, or at the client's Timeout when the context has none. The error is a deadline,
// which the outbox counts as a timeout.
func TestDirectPostDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Query().Has("headers") || strings.Contains(r.URL.Path, "headers") {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, `{"ok":`)
			w.(http.Flusher).Flush()
		}
		select { // hang
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, c := range []struct {
		name    string
		api     string // where the server hangs: before the headers, or in the body
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
	}{
		{"context deadline", "/api/", 15 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}},
		{"client timeout", "/api/", 300 * time.Millisecond, func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}},
		{"client timeout sooner than the context", "/api/", 300 * time.Millisecond, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Hour)
		}},
		{"body, context deadline", "/headers/api/", 15 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}},
		{"body, client timeout", "/headers/api/", 300 * time.Millisecond, func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}},
	} {
		a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + c.api,
			HTTPClient: &http.Client{Timeout: c.timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}}, nopHandler{})
		if err != nil {
			t.Fatal(err)
		}
		base := srv.URL
		if strings.HasPrefix(c.api, "/headers") {
			base += "/headers"
		}
		for what, post := range directPosts(base) {
			t.Run(c.name+"/"+what, func(t *testing.T) {
				ctx, cancel := c.ctx()
				defer cancel()
				err := within(t, func() error { return post(ctx, a) })
				if !errors.Is(err, context.DeadlineExceeded) || failReason(err) != "timeout" {
					t.Fatalf("post to a hanging server = %v, want a deadline (failReason %q)", err, failReason(err))
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error names the response_url's path: %v", err)
				}
			})
		}
	}
}

// brokenConns dials real connections that can be made to fail their next write without
// writing anything: a kept-alive connection the server has closed meanwhile, as the
// Transport finds it.
type brokenConns struct {
	mu    sync.Mutex
	conns []*breakableConn
	dials atomic.Int64
}

type breakableConn struct {
	net.Conn
	broken atomic.Bool
}

func (c *breakableConn) Write(p []byte) (int, error) {
	if c.broken.Load() {
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	}
	return c.Conn.Write(p)
}

func (b *brokenConns) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		b.dials.Add(1)
		bc := &breakableConn{Conn: c}
		b.mu.Lock()
		b.conns = append(b.conns, bc)
		b.mu.Unlock()
		return bc, nil
	}
	return t
}

// breakAll makes every connection dialled so far fail its next write.
func (b *brokenConns) breakAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.broken.Store(true)
	}
}

// TestDirectPostRetriesDeadConnection: a post that finds its kept-alive connection dead
// before writing a byte is sent again, whole, on a fresh connection, as through
// Client.Do: the Transport does it with the request's GetBody. A request without GetBody
// fails in the same place (the control: the test does break the connection).
func TestDirectPostRetriesDeadConnection(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/commands/") {
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"D1","ts":"1.2"}`)
	}))
	defer srv.Close()
	for what, post := range directPosts(srv.URL) {
		t.Run(what, func(t *testing.T) {
			var conns brokenConns
			tr := conns.transport()
			defer tr.CloseIdleConnections()
			a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + "/api/",
				HTTPClient: &http.Client{Timeout: 15 * time.Second, Transport: tr}}, nopHandler{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := post(ctx, a); err != nil {
				t.Fatal(err)
			}
			conns.breakAll()
			if err := post(ctx, a); err != nil {
				t.Fatalf("a post on a dead kept-alive connection: %v", err)
			}
			if n := conns.dials.Load(); n != 2 {
				t.Errorf("%d connections dialled, want 2 (the second post on a fresh one)", n)
			}
			mu.Lock()
			got := bodies[len(bodies)-2:]
			mu.Unlock()
			if got[1] != got[0] || got[0] == "" {
				t.Errorf("the post sent again is %q, the first %q", got[1], got[0])
			}

			// The control: the same, for a request the Transport cannot send again.
			conns.breakAll()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/chat.postMessage", io.MultiReader(strings.NewReader(got[0])))
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
				t.Fatal("a request without GetBody went through a broken connection: the test breaks nothing")
			}
		})
	}
}

// TestDirectPostRedirect: a 3xx is not followed (direct.go says why): the post fails with
// its status, as any other status but 200, and nothing is sent where it points.
func TestDirectPostRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer other.Close()
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, other.URL+r.URL.Path, int(status.Load()))
	}))
	defer srv.Close()
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: srv.URL + "/api/"}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		status.Store(int64(code))
		for what, post := range directPosts(srv.URL) {
			err := post(context.Background(), a)
			var sc slack.StatusCodeError
			if !errors.As(err, &sc) || sc.Code != code || failReason(err) != "error" {
				t.Errorf("%s answered %d: %v, want slack.StatusCodeError{%d}", what, code, err, code)
			}
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests followed a redirect", n)
	}
}

// TestDirectPostErrors: a post that gets no answer fails with a *url.Error, as through
// Client.Do ("Post <url>: …"), and a response_url's path, which lets anyone post with it,
// is not in it.
func TestDirectPostErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	a, err := New(Config{SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: base + "/api/"}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	for what, post := range directPosts(base) {
		err := post(context.Background(), a)
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Op != "Post" || !strings.HasPrefix(ue.URL, base) {
			t.Errorf("%s: %v, want a *url.Error for a Post to %s", what, err, base)
		}
		if !strings.HasPrefix(err.Error(), "slack: "+what+": Post \""+base) {
			t.Errorf("%s: %q does not say what failed", what, err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error names the response_url's path: %v", what, err)
		}
	}
}
