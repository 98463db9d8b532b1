package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

func healthcheckCommand() command {
	return command{
		name:    "healthcheck",
		args:    "[--ready] [--url URL] [--timeout 3s]",
		summary: "exit 0 when the local server answers /healthz (or /readyz): for container health checks",
		env:     []string{"STORYBOT_LISTEN", "STORYBOT_METRICS_LISTEN"},
		define: func(fs *flag.FlagSet, inv *invocation) func(context.Context, []string) error {
			ready := fs.Bool("ready", false, "check /readyz (store and platforms) instead of /healthz (the process)")
			url := fs.String("url", "", "base URL to check (default: http://127.0.0.1 on the port of STORYBOT_METRICS_LISTEN, else STORYBOT_LISTEN)")
			timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
			return func(ctx context.Context, _ []string) error {
				base := *url
				if base == "" {
					addr := orDefault(inv.getenv("STORYBOT_METRICS_LISTEN"), orDefault(inv.getenv("STORYBOT_LISTEN"), ":3000"))
					b, err := localURL(addr)
					if err != nil {
						return fmt.Errorf("healthcheck: %w", err)
					}
					base = b
				}
				path := "/healthz"
				if *ready {
					path = "/readyz"
				}
				return healthcheck(ctx, strings.TrimSuffix(base, "/")+path, *timeout, inv.stdout)
			}
		},
	}
}

// localURL turns a listen address (":3000", "0.0.0.0:3000", "[::]:3000", "10.0.0.5:3000")
// into a URL that reaches it from inside the same container.
func localURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// healthcheck GETs url and succeeds on 200, printing the body (the reasons, for /readyz).
// Distroless images have no shell or curl, so the binary checks itself.
func healthcheck(ctx context.Context, url string, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", url, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	stdout.Write(body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
