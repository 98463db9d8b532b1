package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTrapsCommand runs `storybot traps` as a coach would: a sentence quoted or not, from
// standard input, the list, and the mistakes.
func TestTrapsCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string   // "" means success
		stdout  []string // substrings of stdout
		notOut  []string // must not be in stdout
	}{
		{name: "mind reading", args: []string{"traps", "They will think I'm a fraud."},
			stdout: []string{"1. Mind reading (mind-reading), score 0.90", "because you wrote “They will think”", "Hint: What else could they be thinking?"},
			notOut: []string{"Fortune telling", "2."}},
		{name: "unquoted words", args: []string{"traps", "I'm", "such", "an", "idiot"},
			stdout: []string{"Labelling (labelling)", "because you wrote “I'm such an idiot”"}},
		{name: "two at most, best first", args: []string{"traps", "Nobody ever listens to me, I'm such an idiot and it's my fault."},
			stdout: []string{"1. ", "2. "}, notOut: []string{"3. "}},
		{name: "a plan is no trap", args: []string{"traps", "I should ask Sam."},
			stdout: []string{"No thinking trap suggested."}, notOut: []string{"Should statements"}},
		{name: "from stdin", args: []string{"traps"}, stdin: "It's all his fault.\n",
			stdout: []string{"Blaming (blaming)", "because you wrote “It's all his fault”"}},
		{name: "list", args: []string{"traps", "--list"},
			stdout: []string{" 1. All-or-nothing thinking (all-or-nothing)", "12. Comparing (comparing)", "Emotional reasoning"}},
		{name: "help", args: []string{"help", "traps"}, stdout: []string{"Usage: storybot traps", "-list"}},
		{name: "in the command list", args: []string{"help"}, stdout: []string{"storybot traps"}},
		{name: "nothing given", args: []string{"traps"}, wantErr: "no story given"},
		{name: "too long", args: []string{"traps", strings.Repeat("ö", 3001)}, wantErr: "3001 characters"},
		{name: "unknown flag", args: []string{"traps", "--all", "x"}, wantErr: "flag provided but not defined: -all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, env(nil), strings.NewReader(tt.stdin), &out, &errOut)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v, want success\nstderr: %s", tt.args, err, errOut.String())
			case tt.wantErr != "" && err == nil:
				t.Fatalf("run(%q) = nil, want an error with %q\nstdout: %s", tt.args, tt.wantErr, out.String())
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
		})
	}
}
