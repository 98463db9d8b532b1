package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

// TestCLI runs the command line as a user would type it: help in its forms, argument
// mistakes, and what each prints and returns.
func TestCLI(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string   // "" means success
		stdout  []string // substrings of stdout
		stderr  []string // substrings of stderr
		notOut  []string // must not be in stdout
	}{
		{name: "no command", args: nil, wantErr: "no command given", stderr: []string{"storybot serve", "storybot help <command>"}},
		{name: "help", args: []string{"help"}, stdout: []string{"storybot serve", "storybot console", "storybot healthcheck", "storybot slack manifest", "storybot discord register", "storybot version"}},
		{name: "--help", args: []string{"--help"}, stdout: []string{"storybot serve"}},
		{name: "help serve", args: []string{"help", "serve"}, stdout: []string{"Usage: storybot serve", "-listen", "-dev", "REDIS_URL", "SLACK_BOT_TOKEN", "LOG_FORMAT", "STORYBOT_METRICS_LISTEN"}, notOut: []string{"storybot console"}},
		{name: "serve --help", args: []string{"serve", "--help"}, stdout: []string{"Usage: storybot serve", "-listen", "STORYBOT_ENCRYPTION_KEY"}},
		{name: "serve -h", args: []string{"serve", "-h"}, stdout: []string{"Usage: storybot serve"}},
		{name: "console --help", args: []string{"console", "--help"}, stdout: []string{"Usage: storybot console", "-user", "REDIS_URL"}, notOut: []string{"SLACK_BOT_TOKEN"}},
		{name: "help slack manifest", args: []string{"help", "slack", "manifest"}, stdout: []string{"Usage: storybot slack manifest", "-socket-mode", "-url"}},
		{name: "slack manifest --help", args: []string{"slack", "manifest", "--help"}, stdout: []string{"-socket-mode"}},
		{name: "help discord register", args: []string{"help", "discord", "register"}, stdout: []string{"DISCORD_BOT_TOKEN", "DISCORD_APP_ID"}},
		{name: "help healthcheck", args: []string{"help", "healthcheck"}, stdout: []string{"-ready", "-timeout", "STORYBOT_LISTEN"}},
		{name: "help group", args: []string{"help", "slack"}, stdout: []string{"storybot slack manifest"}},
		{name: "help unknown", args: []string{"help", "dance"}, wantErr: `no command "dance"`},
		{name: "unknown command", args: []string{"dance"}, wantErr: `unknown command "dance"`, stderr: []string{"storybot serve"}},
		{name: "group alone", args: []string{"slack"}, wantErr: "slack: which one?", stderr: []string{"storybot slack manifest"}},
		{name: "group unknown", args: []string{"discord", "unregister"}, wantErr: `discord: unknown command "unregister"`},
		{name: "unknown flag", args: []string{"serve", "--lisen", ":1"}, wantErr: "serve: flag provided but not defined: -lisen", stderr: []string{"Usage: storybot serve"}},
		{name: "stray argument serve", args: []string{"serve", "now"}, wantErr: `serve: unexpected argument "now"`},
		{name: "stray argument console", args: []string{"console", "--user", "sam", "extra"}, wantErr: `console: unexpected argument "extra"`},
		{name: "stray argument version", args: []string{"version", "x"}, wantErr: `version: unexpected argument "x"`},
		{name: "stray argument register", args: []string{"discord", "register", "now"}, wantErr: `discord register: unexpected argument "now"`},
		{name: "flag needs value", args: []string{"console", "--user"}, wantErr: "flag needs an argument"},
		{name: "version", args: []string{"version"}, stdout: []string{"storybot "}},
		{name: "--version", args: []string{"--version"}, stdout: []string{"storybot "}},
		{name: "manifest socket mode needs no url", args: []string{"slack", "manifest", "--socket-mode"}, stdout: []string{`"socket_mode_enabled": true`}, notOut: []string{"https://"}},
		{name: "manifest needs url", args: []string{"slack", "manifest"}, wantErr: "--url is required"},
		{name: "serve refuses embedded store", args: []string{"serve"}, env: map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, wantErr: "no Redis configured"},
		{name: "serve refuses no platform", args: []string{"serve"}, env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}, wantErr: "no platform configured"},
		{name: "serve names both refusals", args: []string{"serve"}, wantErr: "--dev"},
		{name: "bad LOG_FORMAT", args: []string{"serve", "--dev"}, env: map[string]string{"LOG_FORMAT": "xml"}, wantErr: "LOG_FORMAT must be text or json"},
		{name: "bad STORYBOT_DEV", args: []string{"serve"}, env: map[string]string{"STORYBOT_DEV": "yes please"}, wantErr: "STORYBOT_DEV must be 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, env(tt.env), strings.NewReader(""), &out, &errOut)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v, want success\nstderr: %s", tt.args, err, errOut.String())
			case tt.wantErr != "" && err == nil:
				t.Fatalf("run(%q) = nil, want an error with %q", tt.args, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("run(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("run(%q) stdout lacks %q:\n%s", tt.args, s, out.String())
				}
			}
			for _, s := range tt.notOut {
				if strings.Contains(out.String(), s) {
					t.Errorf("run(%q) stdout has %q:\n%s", tt.args, s, out.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("run(%q) stderr lacks %q:\n%s", tt.args, s, errOut.String())
				}
			}
		})
	}
}

// TestEveryCommandEnvVarIsDocumented keeps the help honest: every variable a command lists
// is described in envVars.
func TestEveryCommandEnvVarIsDocumented(t *testing.T) {
	for _, c := range commands() {
		for _, name := range c.env {
			if _, ok := lookupEnvVar(name); !ok {
				t.Errorf("command %q lists %s, which envVars does not describe", c.name, name)
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range envVars {
		if seen[v.name] {
			t.Errorf("envVars lists %s twice", v.name)
		}
		seen[v.name] = true
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	tests := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}}, "dev+0123456789ab"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}}, "dev+abc-dirty"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{debug.BuildInfo{}, "dev"},
	}
	for _, tt := range tests {
		if got := versionFromBuildInfo(&tt.bi); got != tt.want {
			t.Errorf("versionFromBuildInfo(%+v) = %q, want %q", tt.bi, got, tt.want)
		}
	}
}
