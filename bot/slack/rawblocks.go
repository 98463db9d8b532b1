package slack

import (
	"github.com/slack-go/slack"

	"github.com/storybot/storybot/internal/jsonstr"
)

// Marshalling a prompt's Block Kit blocks by reflection (slack-go's MarshalJSON methods and
// encoding/json) for every post was a tenth of the CPU of a DM turn. appendBlock writes the
// two shapes render makes — a plain_text section, an actions block of buttons — straight to
// JSON, byte for byte what encoding/json writes for them (TestRawBlocksMatchJSON,
// FuzzRawBlocks), for chat.postMessage's form (post.go). Anything else is left to
// encoding/json.

func appendBlock(buf []byte, b slack.Block) ([]byte, bool) {
	switch b := b.(type) {
	case *slack.SectionBlock:
		if b.Type != slack.MBTSection || b.BlockID != "" || b.Fields != nil || b.Accessory != nil || b.Expand || !plainText(b.Text) {
			return buf, false
		}
		buf = append(buf, `{"type":"section","text":`...)
		buf = appendText(buf, b.Text)
		return append(buf, '}'), true
	case *slack.ActionBlock:
		if b.Type != slack.MBTAction || b.BlockID == "" || b.Elements == nil {
			return buf, false
		}
		buf = append(buf, `{"type":"actions","block_id":`...)
		buf = jsonstr.Append(buf, b.BlockID)
		buf = append(buf, `,"elements":[`...)
		for i, e := range b.Elements.ElementSet {
			btn, ok := e.(*slack.ButtonBlockElement)
			if !ok || btn.Type != slack.METButton || btn.URL != "" || btn.Style != "" || btn.Confirm != nil || btn.AccessibilityLabel != "" ||
				btn.AgentPrompt != "" || btn.AgentPromptDisplay != "" || btn.VisibleToUserIDs != nil || !plainText(btn.Text) || btn.ActionID == "" || btn.Value == "" {
				return buf, false
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"type":"button","text":`...)
			buf = appendText(buf, btn.Text)
			buf = append(buf, `,"action_id":`...)
			buf = jsonstr.Append(buf, btn.ActionID)
			buf = append(buf, `,"value":`...)
			buf = jsonstr.Append(buf, btn.Value)
			buf = append(buf, '}')
		}
		return append(buf, "]}"...), true
	}
	return buf, false
}

// plainText reports whether t is a plain_text object as render makes it.
func plainText(t *slack.TextBlockObject) bool {
	return t != nil && t.Type == slack.PlainTextType && t.Emoji != nil && !*t.Emoji && !t.Verbatim
}

func appendText(buf []byte, t *slack.TextBlockObject) []byte {
	buf = append(buf, `{"type":"plain_text","text":`...)
	buf = jsonstr.Append(buf, t.Text)
	return append(buf, `,"emoji":false}`...)
}
