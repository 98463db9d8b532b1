package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"gopkg.in/yaml.v3"
)

// The deploy files (deploy/) are parsed and checked against the code: every environment
// variable they set is one storybot reads, and every metric their queries use exists — at
// start, before any event — in a freshly wired app. `docker compose config` and `kubectl
// apply --dry-run` need a daemon or a cluster; this catches what drifts most.

const deployDir = "../../deploy"

func readDeploy(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// goRuntimeEnv are the variables the Go runtime reads itself, which a manifest may set.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "GOMAXPROCS": true}

func checkEnvNames(tb testing.TB, where string, names []string) {
	tb.Helper()
	if len(names) == 0 {
		tb.Errorf("%s: no environment variables found: the test is not reading it right", where)
	}
	for _, n := range names {
		if goRuntimeEnv[n] {
			continue
		}
		if _, ok := lookupEnvVar(n); !ok {
			tb.Errorf("%s sets %s, which storybot does not read (envVars in config.go)", where, n)
		}
	}
}

func TestDeployCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			EnvFile     string            `yaml:"env_file"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(readDeploy(t, "docker-compose.yml"), &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	redis, bot := compose.Services["redis"], compose.Services["storybot"]
	cmd := strings.Join(redis.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync everysec") {
		t.Errorf("redis command %q: want AOF with everysec", cmd)
	}
	if len(redis.Volumes) == 0 || !strings.HasSuffix(redis.Volumes[0], ":/data") {
		t.Errorf("redis volumes = %v, want a volume on /data", redis.Volumes)
	}
	if vol, _, _ := strings.Cut(redis.Volumes[0], ":"); compose.Volumes == nil || !mapHas(compose.Volumes, vol) {
		t.Errorf("volume %q is not declared", vol)
	}
	if len(redis.Healthcheck.Test) == 0 || len(bot.Healthcheck.Test) == 0 {
		t.Error("both services need a health check")
	}
	if got := strings.Join(bot.Healthcheck.Test, " "); got != "CMD /storybot healthcheck" {
		t.Errorf("storybot health check = %q, want the healthcheck subcommand (distroless has no shell)", got)
	}
	if bot.EnvFile != ".env" || bot.DependsOn["redis"].Condition != "service_healthy" {
		t.Errorf("storybot env_file %q, depends_on %+v", bot.EnvFile, bot.DependsOn)
	}
	var names []string
	for n := range bot.Environment {
		names = append(names, n)
	}
	checkEnvNames(t, "docker-compose.yml", names)
	// The health check finds the server where the compose file puts it.
	if _, err := localURL(orDefault(bot.Environment["STORYBOT_METRICS_LISTEN"], bot.Environment["STORYBOT_LISTEN"])); err != nil {
		t.Errorf("the healthcheck cannot derive a URL from the compose environment: %v", err)
	}
}

func mapHas(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func TestDeployEnvExample(t *testing.T) {
	b := readDeploy(t, ".env.example")
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not NAME=value", line)
			continue
		}
		names = append(names, name)
	}
	checkEnvNames(t, ".env.example", names)
	// It must be loadable as it stands, apart from the platform the operator adds.
	getenv := func(k string) string {
		for _, l := range strings.Split(string(b), "\n") {
			if n, v, ok := strings.Cut(l, "="); ok && n == k && !strings.HasPrefix(l, "#") {
				return v
			}
		}
		return ""
	}
	if _, err := loadConfig(getenv); err != nil {
		t.Errorf(".env.example does not load: %v", err)
	}
}

func TestDeployKubernetes(t *testing.T) {
	dec := yaml.NewDecoder(bytes.NewReader(readDeploy(t, "kubernetes/storybot.yaml")))
	kinds := map[string]int{}
	var names []string
	for {
		var doc struct {
			Kind       string            `yaml:"kind"`
			StringData map[string]string `yaml:"stringData"`
			Spec       struct {
				Replicas     int `yaml:"replicas"`
				MinAvailable int `yaml:"minAvailable"`
				Template     struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
							Env  []struct {
								Name string `yaml:"name"`
							} `yaml:"env"`
							Ports []struct {
								Name string `yaml:"name"`
								Port int    `yaml:"containerPort"`
							} `yaml:"ports"`
							Resources struct {
								Requests map[string]string `yaml:"requests"`
								Limits   map[string]string `yaml:"limits"`
							} `yaml:"resources"`
							Liveness  probe `yaml:"livenessProbe"`
							Readiness probe `yaml:"readinessProbe"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("kubernetes/storybot.yaml: %v", err)
		}
		kinds[doc.Kind]++
		switch doc.Kind {
		case "Secret":
			for n := range doc.StringData {
				names = append(names, n)
			}
		case "Deployment":
			if doc.Spec.Replicas != 2 {
				t.Errorf("Deployment replicas = %d, want 2", doc.Spec.Replicas)
			}
			for _, c := range doc.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					names = append(names, e.Name)
				}
				if c.Liveness.HTTPGet.Path != "/healthz" || c.Readiness.HTTPGet.Path != "/readyz" {
					t.Errorf("probes: liveness %q, readiness %q", c.Liveness.HTTPGet.Path, c.Readiness.HTTPGet.Path)
				}
				if !slices.ContainsFunc(c.Ports, func(p struct {
					Name string `yaml:"name"`
					Port int    `yaml:"containerPort"`
				}) bool {
					return p.Name == c.Readiness.HTTPGet.Port
				}) {
					t.Errorf("the readiness probe's port %q is not a container port", c.Readiness.HTTPGet.Port)
				}
				if c.Resources.Requests["memory"] == "" || c.Resources.Requests["cpu"] == "" || c.Resources.Limits["memory"] == "" {
					t.Errorf("resources = %+v, want requests and a memory limit", c.Resources)
				}
				if !slices.Equal(c.Args, []string{"serve"}) {
					t.Errorf("args = %q", c.Args)
				}
			}
		case "PodDisruptionBudget":
			if doc.Spec.MinAvailable < 1 {
				t.Errorf("PodDisruptionBudget minAvailable = %d", doc.Spec.MinAvailable)
			}
		}
	}
	for _, k := range []string{"Secret", "Deployment", "Service", "PodDisruptionBudget"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s documents, want 1", kinds[k], k)
		}
	}
	checkEnvNames(t, "kubernetes/storybot.yaml", names)
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

var metricName = regexp.MustCompile(`\b(?:storybot|go|process)_[a-z_]+\b`)

// metricsUsed returns the metric names in PromQL expressions, histogram suffixes removed.
func metricsUsed(exprs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if strings.HasSuffix(m, "_seconds"+suf) {
					m = strings.TrimSuffix(m, suf)
				}
			}
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// liveMetricNames returns the metric families a freshly wired app exposes before any event.
func liveMetricNames(tb testing.TB) map[string]bool {
	tb.Helper()
	mr := miniredis.RunT(tb)
	cfg, err := loadConfig(env(map[string]string{"REDIS_URL": "redis://" + mr.Addr()}))
	if err != nil {
		tb.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, cfg.logger(io.Discard))
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Close()
	// serve with Socket Mode and the Discord gateway configured expects both connections.
	a.conns.expect("slack", "slack_socket")
	a.conns.expect("discord", "discord_gateway")
	// What a scrape sees: /metrics refreshes the store's readiness first.
	w := httptest.NewRecorder()
	mux := http.NewServeMux()
	a.opsRoutes(mux)
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	mfs, err := a.registry.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) > 0 {
			names[mf.GetName()] = true
		}
	}
	return names
}

func TestDeployMetricsExist(t *testing.T) {
	live := liveMetricNames(t)
	var alerts struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(readDeploy(t, "prometheus/alerts.yml"), &alerts); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	var alertExprs []string
	for _, g := range alerts.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alert rule %+v lacks a name or expression", r)
			}
			alertExprs = append(alertExprs, r.Expr)
		}
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readDeploy(t, "grafana/storybot-dashboard.json"), &dash); err != nil {
		t.Fatalf("grafana/storybot-dashboard.json: %v", err)
	}
	var dashExprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			dashExprs = append(dashExprs, tg.Expr)
		}
	}
	for where, exprs := range map[string][]string{"prometheus/alerts.yml": alertExprs, "grafana/storybot-dashboard.json": dashExprs} {
		used := metricsUsed(exprs)
		if len(used) < 5 {
			t.Errorf("%s: only %d metrics found: the test is not reading it right", where, len(used))
		}
		for _, m := range used {
			if !live[m] {
				t.Errorf("%s uses %s, which a fresh storybot does not expose", where, m)
			}
		}
	}
}
