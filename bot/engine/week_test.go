package engine_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
	"github.com/storybot/storybot/flows"
	"github.com/storybot/storybot/internal/fakeclock"
	"github.com/storybot/storybot/storage/redistest"
)

// coachee is one user living through days on the fake clock: what they type and press, and
// what the bot sends them, kept in order. Scheduled DMs (check-ins, follow-ups, the digest)
// may arrive between the replies to their own actions; inbox keeps everything unread.
type coachee struct {
	tb    testing.TB
	w     *fuWorld
	u     bot.UserRef
	clock *fakeclock.Clock
	mu    sync.Mutex
	inbox []bot.Message
}

// collect moves what was sent to the user into the inbox.
func (c *coachee) collect() {
	for _, m := range c.w.rec.take() {
		if m.To.User == c.u {
			c.mu.Lock()
			c.inbox = append(c.inbox, m)
			c.mu.Unlock()
		}
	}
}

// act does one thing a minute after the last, and returns the bot's replies to it (what
// else arrived meanwhile stays in the inbox, found by await).
func (c *coachee) act(ev bot.Event) string {
	c.tb.Helper()
	c.collect()
	c.clock.Add(time.Minute)
	ev.User, ev.InDM = c.u, true
	if err := c.w.eng.Handle(context.Background(), ev); err != nil {
		c.tb.Fatalf("Handle(%+v) = %v", ev, err)
	}
	var out []string
	for _, m := range c.w.rec.take() {
		if m.To.User != c.u {
			continue
		}
		if isScheduled(m.Text) {
			c.mu.Lock()
			c.inbox = append(c.inbox, m)
			c.mu.Unlock()
			continue
		}
		out = append(out, m.Text)
	}
	return strings.Join(out, "\n")
}

func (c *coachee) say(text string) string { return c.act(bot.Event{Kind: bot.EventText, Text: text}) }
func (c *coachee) press(id string) string { return c.act(bot.Event{Kind: bot.EventChoice, Choice: id}) }
func (c *coachee) cmd(text string) string {
	return c.act(bot.Event{Kind: bot.EventCommand, Text: text})
}

// isScheduled tells a scheduled DM from a reply.
func isScheduled(text string) bool {
	return text == flows.TextCheckinQuestion || strings.HasSuffix(text, "Did it happen?") || strings.HasPrefix(text, "Your week in stories.")
}

// await waits for a scheduled DM whose text contains want, and removes it from the inbox.
func (c *coachee) await(want string) bot.Message {
	c.tb.Helper()
	var got bot.Message
	waitFor(c.tb, "a DM with "+want, func() bool {
		c.collect()
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, m := range c.inbox {
			if strings.Contains(m.Text, want) {
				got = m
				c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
				return true
			}
		}
		return false
	})
	return got
}

// quiet checks that no scheduled DM is waiting.
func (c *coachee) quiet(what string) {
	c.tb.Helper()
	time.Sleep(60 * time.Millisecond)
	c.collect()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.inbox) != 0 {
		c.tb.Errorf("%s: unexpected %q", what, joinTexts(c.inbox))
	}
	c.inbox = nil
}

var reCheckBackAt = regexp.MustCompile(`I'll check back: (\S+) at (\d\d:\d\d)`)

// TestCoacheeWeek lives through a week as a coachee in Berlin (across the spring DST change on
// Sunday), with a weekday check-in at 09:00 and the weekly digest: pauses from a check-in
// and from commands, every check-back choice, typed times, "Tomorrow" landing on the
// check-in's minute, two check-backs due together, Not yet twice, Changed my mind. Each
// next step the user chose to be asked about comes back once, at the time the summary
// promised (the time the scheduler has is the time it said); the Sunday digest's counts,
// average and recurring names are what the user did.
func TestCoacheeWeek(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	local := func(day, hour, minute int) time.Time { return time.Date(2026, 3, day, hour, minute, 0, 0, berlin) }
	clock := fakeclock.New(local(23, 8, 30)) // Monday 23 March
	w := newFuWorld(t, redistest.Start(t), clock, &recorder{})
	c := &coachee{tb: t, w: w, u: testUser("week", 1), clock: clock}
	w.run(nil)
	c.cmd("tz Europe/Berlin")
	c.cmd("checkin weekdays 09:00")
	c.cmd("digest weekly")

	// promised reads the check-back time a summary promised, checks the scheduler has the
	// same one for the saved entry, and returns it.
	type step struct {
		next string
		due  time.Time
	}
	var steps []step
	saved := func(summary, next string) time.Time {
		t.Helper()
		m := reCheckBackAt.FindStringSubmatch(summary)
		if m == nil {
			t.Fatalf("summary %q promises no check-back", summary)
		}
		entries, err := w.store.Journal(context.Background(), c.u, 1)
		if err != nil || len(entries) != 1 || entries[0].Next != next {
			t.Fatalf("newest entry = %+v, %v; want the step %q", entries, err, next)
		}
		due, err := w.store.FollowupsDue(context.Background(), c.u, []string{entries[0].ID})
		if err != nil || len(due) != 1 {
			t.Fatalf("follow-up of %q = %v, %v; want one pending", next, due, err)
		}
		at := due[entries[0].ID].In(berlin)
		if at.Format("15:04") != m[2] {
			t.Fatalf("summary promised %s at %s, the scheduler has %v", m[1], m[2], at)
		}
		steps = append(steps, step{next, at})
		return at
	}
	// together handles a check-in and a check-back due the same minute: both come, one after
	// the other (neither replaces the other), in either order, and each is answered.
	together := func(next string, checkin string, answer func()) {
		t.Helper()
		first := c.await("")
		switch {
		case first.Text == flows.TextCheckinQuestion:
			c.press(checkin)
			c.await("“" + next + "” Did it happen?")
			answer()
		case strings.Contains(first.Text, "“"+next+"” Did it happen?"):
			answer()
			c.await(flows.TextCheckinQuestion)
			c.press(checkin)
		default:
			t.Fatalf("at %v: %q, want the check-in or the check-back on %q", clock.Now(), first.Text, next)
		}
	}
	// arrives checks that the follow-up of next comes at due, not a second before.
	arrives := func(next string, due time.Time) {
		t.Helper()
		clock.Set(due.Add(-time.Second))
		c.quiet("before the check-back on " + next)
		clock.Set(due)
		c.await("“" + next + "” Did it happen?")
	}

	// Monday 09:00: the check-in, and a full pause from it.
	clock.Set(local(23, 9, 0))
	c.await(flows.TextCheckinQuestion)
	c.press("checkin-pause")
	c.say("Sam moved my 1:1 to Thursday again")
	c.say("Sam doesn't care about my work")
	c.press("anxious")
	c.say("7")
	c.say("The 1:1 moved from Monday to Thursday")
	c.say("Sam has a release this week")
	c.say("skip")
	c.say("Ask Sam if Thursday still works")
	c.press("checkback-tomorrow")
	summary := c.say("4")
	c.press("save")
	tueSam := saved(summary, "Ask Sam if Thursday still works")
	if !tueSam.Equal(local(24, 9, 0)) {
		t.Errorf("Tomorrow = %v, want Tuesday 09:00", tueSam)
	}

	// Monday 14:00: a quick pause, "After this meeting".
	clock.Set(local(23, 14, 0))
	c.cmd("quick The team thinks my design is bad")
	c.say("Two people asked good questions")
	c.say("Book 15 minutes with Priya")
	summary = c.press("checkback-meeting")
	c.press("save")
	meeting := saved(summary, "Book 15 minutes with Priya")
	arrives("Book 15 minutes with Priya", meeting)
	c.press("fu-done")
	c.say("Priya liked the flow and wants one change")
	c.say("3")

	// Tuesday 09:00: the check-in and the check-back on Sam, due the same minute. Both come,
	// one after the other, and each is answered.
	clock.Set(tueSam)
	together("Ask Sam if Thursday still works", "checkin-clear", func() {
		if got := c.press("fu-notyet"); !strings.Contains(got, "once more tomorrow") {
			t.Fatalf("Not yet = %q", got)
		}
		c.press("fu-again")
	})

	// Tuesday 11:00: a reframe; the check-back typed: "friday".
	clock.Set(local(24, 11, 0))
	c.cmd("reframe Sam always ignores my ideas")
	c.say("8")
	c.say("Not sure")
	c.say("No")
	c.say("I stop sharing ideas in meetings")
	got := c.say("Yes, that fits")
	if strings.Contains(got, "I didn't catch") {
		t.Fatalf("trap hint answer = %q", got)
	}
	c.say("1")
	c.say("Sam used my idea for the release checklist")
	c.say("Sam is busy and sometimes misses things, and my ideas are worth saying twice")
	c.say("Share one idea in Thursday's 1:1")
	c.say("friday")
	summary = c.say("4")
	c.press("save")
	friday := saved(summary, "Share one idea in Thursday's 1:1")
	if !friday.Equal(local(27, 9, 0)) {
		t.Errorf("friday = %v, want Friday 09:00", friday)
	}

	// Wednesday 09:00: the check-in and the second check-back on Sam (one more, as asked).
	clock.Set(local(25, 9, 0))
	together("Ask Sam if Thursday still works", "checkin-skip", func() {
		c.press("fu-done")
		c.say("Thursday works, Sam had just double-booked")
		c.say("1")
	})

	// Wednesday 16:00: a quick pause, "at 17:30"; Changed my mind.
	clock.Set(local(25, 16, 0))
	c.cmd("quick Lee thinks I'm slow")
	c.say("Lee has three projects")
	c.say("Ask Lee what deadline they need")
	summary = c.say("at 17:30")
	c.press("save")
	arrives("Ask Lee what deadline they need", saved(summary, "Ask Lee what deadline they need"))
	c.say("changed my mind")

	// Thursday: the check-in; two quick pauses, "in 20 minutes" and "This week".
	clock.Set(local(26, 9, 0))
	c.await(flows.TextCheckinQuestion)
	c.press("checkin-clear")
	clock.Set(local(26, 10, 0))
	c.cmd("quick Sam thinks my draft is weak")
	c.say("Sam has not read it yet")
	c.say("Send Sam the draft with two questions")
	summary = c.say("in 20 minutes")
	c.press("save")
	arrives("Send Sam the draft with two questions", saved(summary, "Send Sam the draft with two questions"))
	c.say("done")
	c.say("skip")
	c.say("6")
	clock.Set(local(26, 14, 0))
	c.cmd("quick Priya is annoyed with me")
	c.say("Priya had a hard review")
	c.say("Ask Priya how the review went")
	summary = c.press("checkback-week")
	c.press("save")
	week := saved(summary, "Ask Priya how the review went")

	if !week.Equal(friday) {
		t.Errorf("this week = %v, want Friday 09:00 (%v)", week, friday)
	}

	// Friday 09:00: the check-in, the reframe's check-back and Thursday's "This week", which
	// waits until the first two are answered (not a second before 09:00).
	clock.Set(friday.Add(-time.Second))
	c.quiet("before Friday's check-in and check-backs")
	clock.Set(friday)
	// The three come one after the other (none replaces another), in whatever order the
	// scheduler takes them; each is answered as it comes.
	for left := 3; left > 0; left-- {
		m := c.await("")
		switch {
		case m.Text == flows.TextCheckinQuestion:
			c.press("checkin-clear")
		case strings.Contains(m.Text, "“Share one idea in Thursday's 1:1” Did it happen?"):
			c.press("fu-done")
			c.say("Sam put my idea on the agenda")
			c.say("2")
		case strings.Contains(m.Text, "“Ask Priya how the review went” Did it happen?"):
			c.press("fu-notyet")
			c.press("fu-letgo")
		default:
			t.Fatalf("Friday 09:00: %q, want the check-in or a check-back", m.Text)
		}
	}

	// Sunday 18:00 (after the clocks went forward at 02:00): the digest.
	clock.Set(local(29, 17, 59))
	c.quiet("the weekend before the digest")
	clock.Set(local(29, 18, 0))
	digest := c.await("Your week in stories.").Text
	t.Logf("the digest:\n%s", digest)
	for _, want := range []string{
		"5 pauses and 1 reframe this week.",
		"eased by 3.0 points",
		"Next steps you chose: 6; done so far: 4.",
		"• Ask Lee what deadline they need — changed your mind",
		"• Ask Priya how the review went — not yet",
		"turned out 3.0 out of 10 true on average (4 answers)",                   // 3, 1, 6, 2
		"What keeps coming back this month: Sam (3 stories), Priya (2 stories).", // not Lee (once), not "Thursday"
		// Sam's stories: 1 (Monday's pause), 2 (the reframe), 6 (Thursday's draft). Priya's
		// one answer is about a story that named her only in its next step: no line.
		"Looking back, your stories about Sam this month turned out 3.0 out of 10 true (3 answers).",
	} {
		if !strings.Contains(strings.ToLower(digest), strings.ToLower(want)) {
			t.Errorf("digest lacks %q", want)
		}
	}
	// Nothing came twice, and nothing is left.
	clock.Set(local(30, 12, 0))
	c.collect()
	for _, m := range c.inbox {
		if strings.HasSuffix(m.Text, "Did it happen?") {
			t.Errorf("a check-back came again: %q", m.Text)
		}
	}
	var ids []string
	entries, _ := w.store.Journal(context.Background(), c.u, 20)
	for _, en := range entries {
		ids = append(ids, en.ID)
	}
	if due, _ := w.store.FollowupsDue(context.Background(), c.u, ids); len(due) != 0 {
		t.Errorf("check-backs still pending after the week: %v", due)
	}
	if len(steps) != 6 {
		t.Errorf("%d check-backs promised, want 6", len(steps))
	}
}
