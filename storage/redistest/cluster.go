package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodes is the number of masters StartCluster starts: the fewest redis-cli accepts.
const clusterNodes = 3

// StartCluster starts a Redis Cluster of three masters (no replicas) on free loopback
// ports, each redis-server in a temporary directory of its own with persistence off, and
// returns their addresses ("127.0.0.1:port") once every node reports cluster_state:ok. The
// servers are killed when tb ends.
//
// It needs redis-server and redis-cli on PATH. Without them the test is skipped, or fails
// when STORYBOT_TEST_REAL_REDIS=1. There is no miniredis fallback: miniredis has no cluster.
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	bins := lookPaths(tb, "a Redis Cluster", "redis-server", "redis-cli")
	server, cli := bins[0], bins[1]
	// Another process may take a port between our probe and redis-server's bind: retry.
	var lastErr error
	for range 5 {
		addrs, err := startCluster(tb, server, cli)
		if err == nil {
			return addrs
		}
		lastErr = err
	}
	tb.Fatalf("redistest: start redis cluster: %v", lastErr)
	return nil
}

// lookPaths finds the binaries on PATH, or skips tb (fails it with
// STORYBOT_TEST_REAL_REDIS=1) when one is missing.
func lookPaths(tb testing.TB, what string, names ...string) []string {
	tb.Helper()
	paths := make([]string, len(names))
	for i, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			if os.Getenv("STORYBOT_TEST_REAL_REDIS") == "1" {
				tb.Fatalf("redistest: STORYBOT_TEST_REAL_REDIS=1 but %s is not on PATH: %v", name, err)
			}
			tb.Skipf("redistest: %s is not on PATH, so %s cannot be started: skipping (install redis-server and redis-tools; set STORYBOT_TEST_REAL_REDIS=1 to make this a failure)", name, what)
		}
		paths[i] = p
	}
	return paths
}

func startCluster(tb testing.TB, server, cli string) (addrs []string, err error) {
	// Each node needs its client port and its cluster bus port. The bus port is given
	// explicitly: the default, port+10000, may be taken or beyond 65535.
	ports, err := freePorts(2 * clusterNodes)
	if err != nil {
		return nil, err
	}
	// Start the nodes side by side: each takes a while to answer its first PING.
	stops := make([]func(), clusterNodes)
	errs := make([]error, clusterNodes)
	var wg sync.WaitGroup
	for i := range clusterNodes {
		port, bus := ports[2*i], ports[2*i+1]
		dir := tb.TempDir()
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
		wg.Go(func() {
			stops[i], errs[i] = launch(server, dir, port,
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
				"--cluster-node-timeout", "2000",
				"--cluster-port", strconv.Itoa(bus))
		})
	}
	wg.Wait()
	stopAll := func() {
		for _, stop := range stops {
			if stop != nil {
				stop()
			}
		}
	}
	defer func() {
		if err != nil {
			stopAll()
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out.String())
	}
	if err := waitClusterOK(ctx, addrs); err != nil {
		return nil, err
	}
	tb.Cleanup(stopAll)
	return addrs, nil
}

// waitClusterOK polls CLUSTER INFO on every node until each reports cluster_state:ok.
func waitClusterOK(ctx context.Context, addrs []string) error {
	for _, addr := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				_ = rdb.Close()
				return fmt.Errorf("node %s did not reach cluster_state:ok: %v: %s", addr, err, info)
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = rdb.Close()
	}
	return nil
}

// freePorts returns n distinct free loopback ports (all are held open until all are found).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ClusterClient returns a go-redis cluster client for addrs, closed when tb ends.
func ClusterClient(tb testing.TB, addrs []string) *redis.ClusterClient {
	tb.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
