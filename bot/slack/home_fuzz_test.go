package slack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"golang.org/x/tools/txtar"

	"github.com/storybot/storybot/bot"
)

// FuzzHomePayloads reads arbitrary app_home_opened events and home button presses as the
// adapter does: nothing may panic; an event is only ever the Home tab of a named user, and a
// press only ever a home choice of a named user.
func FuzzHomePayloads(f *testing.F) {
	for _, name := range []string{"app_home_opened", "home_block_actions"} {
		a, err := txtar.ParseFile(filepath.Join("testdata", "payloads", name+".txtar"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			f.Add(file.Data)
		}
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "home_view.golden")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"app_home_opened","user":"U1","tab":"messages"}`))
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1","team_id":"T1"},"view":{"callback_id":"storybot_home"},"actions":[{"action_id":"storybot_home_x","value":"home:show:"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var outer struct {
			TeamID       string          `json:"team_id"`
			EnterpriseID string          `json:"enterprise_id"`
			Event        json.RawMessage `json:"event"`
		}
		if json.Unmarshal(b, &outer) == nil {
			inner := outer.Event
			if inner == nil {
				inner = b
			}
			var h slackevents.AppHomeOpenedEvent
			if json.Unmarshal(inner, &h) == nil {
				if ev, ok := homeOpenedEvent(outer.TeamID, outer.EnterpriseID, &h); ok {
					if ev.Kind != bot.EventHome || h.Tab != "home" || ev.User.User == "" || ev.User.Workspace == "" {
						t.Errorf("app_home_opened %s became %+v", b, ev)
					}
				}
			}
		}
		var ic slack.InteractionCallback
		if json.Unmarshal(b, &ic) != nil {
			return
		}
		if ev, ok := homeActionEvent(ic); ok {
			if ev.Kind != bot.EventChoice || !bot.IsHomeChoice(ev.Choice) || ev.User.User == "" || ev.User.Workspace == "" ||
				ev.Trigger != "" && !strings.HasPrefix(ev.Trigger, routeTrigger) {
				t.Errorf("home press %s became %+v", b, ev)
			}
		}
	})
}
