package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
)

// checkRawBlocks checks that appendBlocks, when it writes blocks, writes them exactly as
// encoding/json does, and reports whether it wrote them.
func checkRawBlocks(t *testing.T, blocks []slack.Block) bool {
	t.Helper()
	if blocks == nil {
		return true // no blocks field at all (postForm)
	}
	want, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := appendBlocks(nil, blocks)
	if ok && string(got) != string(want) {
		t.Errorf("appendBlocks wrote\n%s\nencoding/json writes\n%s", got, want)
	}
	return ok
}

func TestRawBlocksMatchJSON(t *testing.T) {
	var many []flows.Choice
	for i := range 30 {
		many = append(many, flows.Choice{ID: fmt.Sprintf("c%d", i), Label: fmt.Sprintf("Choice %d", i)})
	}
	texts := []string{"What are you feeling?", "quotes \" and \\ and <b> & </b>", "tabs\tand\nlines\r\x01\x1f", "unicode: é ü 日本 \u2028 \u2029 🙂", "bad utf8: \xff\xfe end", strings.Repeat("long text ", 600)}
	for _, text := range texts {
		for _, choices := range [][]flows.Choice{nil, {{ID: "anxious", Label: "Anxious"}, {ID: "x&y", Label: "B <&> \"c\""}}, many} {
			_, blocks := render(bot.Message{Kind: flows.ReplyPrompt, Text: text, Choices: choices})
			if !checkRawBlocks(t, blocks) {
				t.Errorf("render's blocks for %.20q were not written directly", text)
			}
		}
	}
	// Shapes it does not write are left to encoding/json.
	other := []slack.Block{slack.NewContextBlock("c", slack.NewTextBlockObject(slack.PlainTextType, "x", false, false))}
	if checkRawBlocks(t, other) {
		t.Errorf("a context block was written directly")
	}
}

func FuzzRawBlocks(f *testing.F) {
	f.Add("What are you feeling?", "anxious", "Anxious")
	f.Add("<&>\u2028\xff", "a\"b", "\\\t")
	f.Fuzz(func(t *testing.T, text, id, label string) {
		_, blocks := render(bot.Message{Kind: flows.ReplyPrompt, Text: text, Choices: []flows.Choice{{ID: id, Label: label}, {ID: "b", Label: "B"}}})
		// A button with no value (a choice with an empty ID, which no flow makes) is a shape
		// left to encoding/json, which omits the field; whatever is written directly must
		// still be what encoding/json writes (checkRawBlocks).
		if !checkRawBlocks(t, blocks) && id != "" {
			t.Errorf("render's blocks were not written directly")
		}
	})
}
