package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/bot/engine"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/storage/redistest"
)

// newSafetyRig is a coach rig (safety plans and metrics are in serve's wiring) and its
// metrics registry.
func newSafetyRig(tb testing.TB, url string) (*rig, *prometheus.Registry) {
	tb.Helper()
	r := newCoachRig(tb, url, nil)
	return r, r.reg
}

// safetyCount reads storybot_safety_replies_total{event}.
func safetyCount(tb testing.TB, reg *prometheus.Registry, event string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "storybot_safety_replies_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" && l.GetValue() == event {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func isCrisisAnswer(m bot.Message) bool {
	return m.Kind == flows.ReplyCrisis && strings.Contains(m.Text, "findahelpline.com") && strings.Contains(m.Text, "saved nothing") && strings.Contains(m.Text, "/story sos")
}

// TestSafetyCrisisInCommands: the raw text of every command is read before it is parsed.
// Parsed or not, in a channel or the DM, crisis language gets the crisis answer where the
// user is, and closes any open dialogue.
func TestSafetyCrisisInCommands(t *testing.T) {
	url := redistest.Start(t)
	r, reg := newSafetyRig(t, url)
	_, u, _ := users("cmd")
	r.cmd(u, "pause the review went badly") // a dialogue is open
	for i, text := range []string{
		"I want to kill myself",        // parses as a pause with inline text
		"checkin i want to kil myself", // does not parse
		"history kms",                  // does not parse
		"help nobody would miss me",    // parses as help
		"sos I want to end my life",    // sos takes nothing: still the crisis answer
		"coach assign @x \"I am suicidal\" daily 09:00",
	} {
		msgs := r.cmd(u, text)
		if len(msgs) != 1 || !isCrisisAnswer(msgs[0]) || msgs[0].To.Kind != bot.DestEphemeral || msgs[0].To.User != u {
			t.Errorf("/story %s = %+v, want one ephemeral crisis answer to the user", text, msgs)
		}
		if i == 0 {
			if st, _, _ := r.store.Dialogue(context.Background(), u); st.Open() {
				t.Errorf("dialogue still open after the crisis answer: %+v", st)
			}
		}
	}
	// In the DM, the answer is in the DM.
	msgs := r.handle(u, bot.Event{Kind: bot.EventCommand, Text: "I want to die", InDM: true})
	if len(msgs) != 1 || !isCrisisAnswer(msgs[0]) || msgs[0].To.Kind != bot.DestDM {
		t.Errorf("crisis command in the DM = %+v", msgs)
	}
	// A Discord-style parsed command carries its text in the command.
	msgs = r.handle(u, bot.Event{Kind: bot.EventCommand, Command: &bot.Command{Name: bot.CmdQuick, Text: "i want to unalive myself"}, Route: "r"})
	if len(msgs) != 1 || !isCrisisAnswer(msgs[0]) {
		t.Errorf("crisis in a parsed command = %+v", msgs)
	}
	if got := safetyCount(t, reg, "crisis"); got != 8 {
		t.Errorf("crisis answers counted = %v, want 8", got)
	}
	if strings.Contains(r.logs.String(), "kill") || strings.Contains(r.logs.String(), "suicidal") {
		t.Errorf("crisis words in the logs:\n%s", r.logs.String())
	}
}

// TestSafetyCheckQuestionInDM: an idiom asks the check question; "no" goes on where the
// dialogue was; the metrics count the question and the answer, with no ids.
func TestSafetyCheckQuestionInDM(t *testing.T) {
	url := redistest.Start(t)
	r, reg := newSafetyRig(t, url)
	_, u, _ := users("check")
	r.cmd(u, "quick")
	msgs := r.say(u, "I'm killing myself to hit this target")
	mustContain(t, "check question", msgs, flows.TextCheckQuestion)
	choiceID(t, msgs, "No, a figure of speech")
	msgs = r.say(u, "no")
	mustContain(t, "after no", msgs, "carry on", "What else could be true?")
	st, _, _ := r.store.Dialogue(context.Background(), u)
	if st.Entry.Story != "I'm killing myself to hit this target" || st.Step != flows.StepOthers {
		t.Errorf("after no: step %v, story %q; want others, the idiom kept as the story", st.Step, st.Entry.Story)
	}
	if safetyCount(t, reg, "check") != 1 || safetyCount(t, reg, "check-no") != 1 {
		t.Errorf("check metrics = %v, %v; want 1, 1", safetyCount(t, reg, "check"), safetyCount(t, reg, "check-no"))
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), u.User) || strings.Contains(l.GetValue(), "killing") {
					t.Errorf("metric %s has label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestSafetyPlanSOSExportForget: the plan is written in the DM, shown by sos, exported,
// encrypted at rest, and erased by forget.
func TestSafetyPlanSOSExportForget(t *testing.T) {
	url := redistest.Start(t)
	r, reg := newSafetyRig(t, url)
	_, u, _ := users("plan")
	const people = "PLAN-my-sister-Ana-0151-555-0101"

	msgs := r.cmd(u, "sos")
	if len(msgs) != 1 || msgs[0].To.Kind != bot.DestEphemeral {
		t.Fatalf("sos = %+v, want one ephemeral reply", msgs)
	}
	mustContain(t, "sos without a plan", msgs, "Breathe in", "findahelpline.com", "/story safety-plan")

	msgs = r.cmd(u, "safety-plan")
	mustContain(t, "plan start", to(msgs, u), "safety plan", "warning signs")
	r.say(u, "skip")
	r.say(u, "a walk round the block")
	msgs = r.say(u, people)
	mustContain(t, "plan saved", msgs, "Saved", people)
	if st, _, _ := r.store.Dialogue(context.Background(), u); st.Open() {
		t.Errorf("plan dialogue still open: %+v", st)
	}

	msgs = r.cmd(u, "sos")
	mustContain(t, "sos with the plan", msgs, "Your safety plan", "a walk round the block", people)
	if got := safetyCount(t, reg, "sos"); got != 2 {
		t.Errorf("sos counted %v, want 2", got)
	}

	var exported string
	for _, m := range r.cmd(u, "export") {
		if m.File != nil {
			exported = string(m.File.Content)
		}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(exported), &doc); err != nil || !strings.Contains(string(doc["safety_plan"]), people) {
		t.Errorf("export safety_plan = %s (%v), want the plan", doc["safety_plan"], err)
	}
	if dump := dumpRedis(t, url); strings.Contains(dump, people) || strings.Contains(dump, "walk round") {
		t.Errorf("the safety plan is stored in plain text")
	}
	if strings.Contains(r.logs.String(), people) {
		t.Errorf("the plan is in the logs")
	}

	r.cmd(u, "forget")
	r.choose(u, "forget:yes")
	if _, ok, err := r.store.SafetyPlan(context.Background(), u); ok || err != nil {
		t.Errorf("safety plan after forget: %v, %v", ok, err)
	}
	mustContain(t, "sos after forget", r.cmd(u, "sos"), "/story safety-plan")
}

// TestSafetyPracticeNotes: a note with crisis language is not kept and gets the crisis
// answer; an ambiguous one stays private and cannot be shared; the coach sees none of it.
func TestSafetyPracticeNotes(t *testing.T) {
	url := redistest.Start(t)
	r, _ := newSafetyRig(t, url)
	coach, client, _ := users("notes")
	const crisisNote = "honestly I want to kill myself after these reviews"
	const ambiguousNote = "I'm killing myself to keep this streak going"
	r.link(coach, client)
	r.cmd(coach, "coach assign <@"+client.User+"> name-the-story daily 09:00")

	r.choose(client, "practice:note:name-the-story")
	msgs := r.say(client, crisisNote)
	if len(msgs) != 1 || !isCrisisAnswer(msgs[0]) {
		t.Errorf("crisis note = %+v, want the crisis answer", msgs)
	}
	notes, err := r.store.Coaching().Notes(context.Background(), client)
	if err != nil || len(notes) != 0 {
		t.Errorf("notes after a crisis note = %+v, %v; want none kept", notes, err)
	}

	r.choose(client, "practice:note:name-the-story")
	msgs = r.say(client, ambiguousNote)
	mustContain(t, "ambiguous note", msgs, "private", "/story sos")
	for _, m := range msgs {
		for _, c := range m.Choices {
			if strings.Contains(c.ID, "share") {
				t.Errorf("an ambiguous note was offered for sharing: %+v", m)
			}
		}
	}
	notes, _ = r.store.Coaching().Notes(context.Background(), client)
	if len(notes) != 1 {
		t.Fatalf("notes = %+v, want the ambiguous note kept privately", notes)
	}
	// A share pressed anyway (an old or forged button) is refused.
	mustContain(t, "forced share", r.choose(client, "note:share:"+notes[0].ID), "stays private")
	// Even a note marked shared in the store is never shown.
	if _, err := r.store.Coaching().ShareNote(context.Background(), client, notes[0].ID, true); err != nil {
		t.Fatal(err)
	}
	prog := r.cmd(coach, "coach progress <@"+client.User+">")
	if strings.Contains(texts(prog), "killing") {
		t.Errorf("coach progress shows the note: %s", texts(prog))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.all {
		if m.To.User == coach && (strings.Contains(m.Text, "kill") || m.Kind == flows.ReplyCrisis) {
			t.Errorf("the coach was sent %+v", m)
		}
	}
}

// TestSafetyCheckinReply: a typed reply to a scheduled check-in is read like any answer.
func TestSafetyCheckinReply(t *testing.T) {
	url := redistest.Start(t)
	r, _ := newSafetyRig(t, url)
	_, u, _ := users("checkin")
	if err := r.eng.Deliver(context.Background(), bot.Job{Kind: bot.JobCheckin, User: u}); err != nil {
		t.Fatal(err)
	}
	r.take()
	msgs := r.say(u, "i don't want to be alive anymore")
	if len(msgs) != 1 || !isCrisisAnswer(msgs[0]) {
		t.Errorf("crisis reply to a check-in = %+v, want the crisis answer", msgs)
	}
	if err := r.eng.Deliver(context.Background(), bot.Job{Kind: bot.JobCheckin, User: u}); err != nil {
		t.Fatal(err)
	}
	r.take()
	mustContain(t, "idiom reply to a check-in", r.say(u, "I could die of embarrassment after standup"), flows.TextCheckQuestion)
	mustContain(t, "then no", r.say(u, "no"), "What else could be true?")
}

// TestSafetyCrisisDuringOutage: the crisis answer never waits on Redis. With the store down,
// crisis language still gets it (a DM answer, a command in a channel); anything else gets the
// usual "I can't save right now".
func TestSafetyCrisisDuringOutage(t *testing.T) {
	h := newHarness(t, "")
	h.command("quick", true)
	h.flaky.down.Store(true)
	msgs, err := h.handle(bot.Event{Kind: bot.EventText, Text: "i just want to die", InDM: true})
	if err != nil || len(msgs) != 1 || !isCrisisAnswer(msgs[0]) || msgs[0].To.Kind != bot.DestDM {
		t.Errorf("crisis during an outage = %+v, %v; want the crisis answer in the DM", msgs, err)
	}
	msgs, err = h.handle(bot.Event{Kind: bot.EventCommand, Text: "I want to kill myself", Route: "route-1"})
	if err != nil || len(msgs) != 1 || !isCrisisAnswer(msgs[0]) || msgs[0].To.Kind != bot.DestEphemeral {
		t.Errorf("crisis command during an outage = %+v, %v; want the crisis answer in place", msgs, err)
	}
	msgs, _ = h.handle(bot.Event{Kind: bot.EventText, Text: "Sam is just busy", InDM: true})
	if len(msgs) != 1 || msgs[0].Text != engine.TextStoreDown {
		t.Errorf("ordinary answer during an outage = %+v, want the outage notice", msgs)
	}
	if strings.Contains(h.logs.String(), "want to die") || strings.Contains(h.logs.String(), "kill") {
		t.Errorf("crisis words in the logs:\n%s", h.logs.String())
	}
}

// TestSafetyFormDuringOutage: a quick-pause form (modal) with crisis language gets the crisis
// answer in the modal even when the store is down; an ordinary form gets the outage notice.
func TestSafetyFormDuringOutage(t *testing.T) {
	h := newHarness(t, "")
	h.flaky.down.Store(true)
	msgs, err := h.handle(bot.Event{Kind: bot.EventForm, Route: "route-1", Form: &flows.QuickForm{Story: "they ignore me", Other: "i want to kill myself", Next: "x"}})
	if err != nil || len(msgs) != 1 || msgs[0].To.Kind != bot.DestModal || !strings.Contains(msgs[0].Text, "findahelpline.com") {
		t.Errorf("crisis form during an outage = %+v, %v; want the crisis answer in the modal", msgs, err)
	}
	msgs, _ = h.handle(bot.Event{Kind: bot.EventForm, Route: "route-1", Form: &flows.QuickForm{Story: "they ignore me", Other: "they are busy", Next: "ask"}})
	if len(msgs) != 1 || msgs[0].Text != engine.TextStoreDown {
		t.Errorf("ordinary form during an outage = %+v, want the outage notice", msgs)
	}
}
