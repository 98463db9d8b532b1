package slack

import (
	"unicode/utf8"

	"github.com/slack-go/slack"
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
		buf = appendString(buf, b.BlockID)
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
			buf = appendString(buf, btn.ActionID)
			buf = append(buf, `,"value":`...)
			buf = appendString(buf, btn.Value)
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
	buf = appendString(buf, t.Text)
	return append(buf, `,"emoji":false}`...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as encoding/json does by default: quoted, with <, > and & escaped
// for HTML, U+2028 and U+2029 escaped, and invalid UTF-8 as U+FFFD.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '\\', '"':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
