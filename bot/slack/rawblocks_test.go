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

// checkRawBlocks checks that rawBlocks writes blocks exactly as encoding/json does.
func checkRawBlocks(t *testing.T, blocks []slack.Block) {
	t.Helper()
	want, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawBlocks(blocks)
	got, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("rawBlocks wrote\n%s\nencoding/json writes\n%s", got, want)
	}
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
			checkRawBlocks(t, blocks)
			if len(blocks) > 0 {
				if _, ok := rawBlocks(blocks)[0].(rawBlock); !ok {
					t.Errorf("render's blocks for %.20q were not written ahead", text)
				}
			}
		}
	}
	// Shapes it does not write are left to slack-go.
	other := []slack.Block{slack.NewContextBlock("c", slack.NewTextBlockObject(slack.PlainTextType, "x", false, false))}
	if _, ok := rawBlocks(other)[0].(rawBlock); ok {
		t.Errorf("a context block was written ahead")
	}
	checkRawBlocks(t, other)
}

func FuzzRawBlocks(f *testing.F) {
	f.Add("What are you feeling?", "anxious", "Anxious")
	f.Add("<&>\u2028\xff", "a\"b", "\\\t")
	f.Fuzz(func(t *testing.T, text, id, label string) {
		_, blocks := render(bot.Message{Kind: flows.ReplyPrompt, Text: text, Choices: []flows.Choice{{ID: id, Label: label}, {ID: "b", Label: "B"}}})
		checkRawBlocks(t, blocks)
	})
}
