package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// SentinelMaster is the master name StartSentinel's Sentinel monitors.
const SentinelMaster = "storybot"

// StartSentinel starts a redis-server master and one Sentinel (redis-server --sentinel)
// monitoring it as SentinelMaster, on free loopback ports, and returns the Sentinel's
// address. Both are killed when tb ends. Like StartCluster, it skips tb (or fails it with
// STORYBOT_TEST_REAL_REDIS=1) when redis-server is missing.
func StartSentinel(tb testing.TB) []string {
	tb.Helper()
	server := lookPaths(tb, "a Sentinel", "redis-server")[0]
	var lastErr error
	for range 5 {
		addr, err := startSentinel(tb, server)
		if err == nil {
			return []string{addr}
		}
		lastErr = err
	}
	tb.Fatalf("redistest: start redis sentinel: %v", lastErr)
	return nil
}

func startSentinel(tb testing.TB, server string) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	master, sentinel := ports[0], ports[1]
	stopMaster, err := launch(server, tb.TempDir(), master)
	if err != nil {
		return "", err
	}
	// Sentinel rewrites its configuration file, so it must be a writable file of its own.
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %[1]s 5000\n", SentinelMaster, master)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		stopMaster()
		return "", err
	}
	stopSentinel, err := launchArgs(server, dir, sentinel, []string{conf, "--sentinel",
		"--port", strconv.Itoa(sentinel), "--bind", "127.0.0.1", "--protected-mode", "no"})
	if err != nil {
		stopMaster()
		return "", err
	}
	tb.Cleanup(func() {
		stopSentinel()
		stopMaster()
	})
	return fmt.Sprintf("127.0.0.1:%d", sentinel), nil
}
