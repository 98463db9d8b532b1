// Package redistest gives tests a Redis server to talk to: the one REDIS_URL names, or a
// private redis-server started for the test, or — when no redis-server is installed — an
// in-process miniredis, so that tests still run on a bare machine.
//
// Set STORYBOT_TEST_REAL_REDIS=1 (in CI) to make the last fallback a failure: miniredis is
// close to Redis, not the same, and the point of these tests is the real thing.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Start returns the redis:// URL of a server for tb. With REDIS_URL set, tb gets a database
// of that server to itself (see Lease), so the suite can run against an operator's own
// Redis with packages in parallel. Otherwise it starts redis-server from PATH on a free
// loopback port, with persistence off, and stops it when tb ends.
func Start(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return Lease(tb, u)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("STORYBOT_TEST_REAL_REDIS") == "1" {
			tb.Fatalf("redistest: STORYBOT_TEST_REAL_REDIS=1 but redis-server is not on PATH: %v", err)
		}
		tb.Log("redistest: redis-server not on PATH: using miniredis instead (set STORYBOT_TEST_REAL_REDIS=1 to require a real server)")
		m := miniredis.RunT(tb)
		return "redis://" + m.Addr()
	}
	// Another process may take the port between our probe and redis-server's bind: retry.
	var lastErr error
	for range 5 {
		url, err := startServer(tb, bin)
		if err == nil {
			return url
		}
		lastErr = err
	}
	tb.Fatalf("redistest: start redis-server: %v", lastErr)
	return ""
}

func startServer(tb testing.TB, bin string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	stop, err := launch(bin, tb.TempDir(), port)
	if err != nil {
		return "", err
	}
	tb.Cleanup(stop)
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), nil
}

// launch runs redis-server on 127.0.0.1:port in dir (in case anything is written after
// all), with persistence off and the extra arguments, and waits until it answers PING. The
// returned func kills it and waits for it to exit.
func launch(bin, dir string, port int, extra ...string) (stop func(), err error) {
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}, extra...)
	return launchArgs(bin, dir, port, args)
}

// launchArgs is launch with the whole command line given.
func launchArgs(bin, dir string, port int, args []string) (stop func(), err error) {
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return nil, fmt.Errorf("redis-server exited: %v: %s", err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("redis-server did not answer PING: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns a go-redis client for url, closed when tb ends.
func Client(tb testing.TB, url string) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Server is a redis-server process a test started and may pause, resume or kill, to see
// how the code above it behaves when Redis hangs or dies.
type Server struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	stop func()
}

// StartServer starts a private redis-server for tb (never the shared REDIS_URL, never
// miniredis: pausing a process is the point). It skips tb when redis-server is not
// installed, unless STORYBOT_TEST_REAL_REDIS=1 makes that a failure.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("STORYBOT_TEST_REAL_REDIS") == "1" {
			tb.Fatalf("redistest: STORYBOT_TEST_REAL_REDIS=1 but redis-server is not on PATH: %v", err)
		}
		tb.Skipf("redistest: redis-server not on PATH: %v", err)
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
		s.URL = "redis://" + s.Addr + "/0"
		if err := s.launch(bin, tb.TempDir(), port); err != nil {
			lastErr = err
			continue
		}
		tb.Cleanup(s.Kill)
		return s
	}
	tb.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

func (s *Server) launch(bin, dir string, port int) error {
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd = cmd
	s.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-exited
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("redis-server did not answer PING: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause stops the server process (SIGSTOP): connections stay open, nothing answers.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Kill kills the server and waits for it to exit; its data is gone. Killing twice is fine.
func (s *Server) Kill() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}
