package bot_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps DESIGN.md's package rule: flows imports nothing of ours; bot
// imports only flows; adapters and storage import bot and flows but never the engine, each
// other, or prometheus (metrics belong to the engine). Only non-test imports count: test
// rigs may wire the engine the way cmd does.
func TestDependencyDirection(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH")
	}
	const mod = "github.com/storybot/storybot"
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{mod + "/flows", []string{mod + "/bot", mod + "/storage", mod + "/cmd", mod + "/internal"}},
		{mod + "/bot", []string{mod + "/bot/", mod + "/storage", mod + "/cmd", "github.com/prometheus/", "github.com/redis/", "github.com/slack-go/", "github.com/bwmarrin/"}},
		{mod + "/bot/slack", []string{mod + "/bot/engine", mod + "/bot/discord", mod + "/bot/console", mod + "/storage", "github.com/prometheus/"}},
		{mod + "/bot/discord", []string{mod + "/bot/engine", mod + "/bot/slack", mod + "/bot/console", mod + "/storage", "github.com/prometheus/"}},
		{mod + "/bot/console", []string{mod + "/bot/engine", mod + "/bot/slack", mod + "/bot/discord", mod + "/storage", "github.com/prometheus/"}},
		{mod + "/storage", []string{mod + "/bot/engine", mod + "/bot/slack", mod + "/bot/discord", mod + "/bot/console", "github.com/prometheus/"}},
	}
	for _, r := range rules {
		t.Run(strings.TrimPrefix(r.pkg, mod+"/"), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", r.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep == r.pkg {
					continue
				}
				for _, f := range r.forbidden {
					if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s, which DESIGN.md forbids", r.pkg, dep)
					}
				}
			}
		})
	}
}
