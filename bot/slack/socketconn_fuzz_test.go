package slack

import (
	"encoding/json"
	"testing"

	"github.com/slack-go/slack/socketmode"
)

// FuzzSocketEnvelope decodes arbitrary Socket Mode messages as the connection does:
// nothing may panic, and a decoded envelope has the type it came with.
func FuzzSocketEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","num_connections":1,"debug_info":{"host":"h"},"connection_info":{"app_id":"A"}}`,
		`{"type":"disconnect","reason":"refresh_requested"}`,
		`{"type":"events_api","envelope_id":"e","payload":{"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel_type":"im","user":"U","text":"hi"}}}`,
		`{"type":"slash_commands","envelope_id":"e","payload":{"command":"/story","text":"quick","user_id":"U","team_id":"T"}}`,
		`{"type":"interactive","envelope_id":"e","payload":{"type":"block_actions","user":{"id":"U"},"actions":[{"action_id":"a","value":"v"}]}}`,
		`{"type":"events_api","envelope_id":"e","payload":"nope"}`, `{"type":"interactive","payload":[]}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req socketmode.Request
		if json.Unmarshal(b, &req) != nil {
			return
		}
		evt, err := envelopeEvent(&req)
		if err == nil && string(evt.Type) != req.Type {
			t.Errorf("envelope %q became event %q", req.Type, evt.Type)
		}
	})
}
