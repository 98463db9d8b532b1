package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// checkReadEnvelope checks readEnvelope against encoding/json on body: when it accepts
// body, json.Unmarshal into an eventEnvelope must succeed and give exactly what it gave.
// It reports whether readEnvelope accepted body.
func checkReadEnvelope(tb testing.TB, body []byte) bool {
	tb.Helper()
	var got eventEnvelope
	if !readEnvelope(body, &got) {
		return false
	}
	var want eventEnvelope
	if err := json.Unmarshal(body, &want); err != nil {
		tb.Errorf("readEnvelope accepts %q; json.Unmarshal: %v", body, err)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("readEnvelope(%q) =\n%s\njson.Unmarshal:\n%s", body, dumpEnvelope(got), dumpEnvelope(want))
	}
	return true
}

// dumpEnvelope shows an envelope with its pointers followed and nil apart from empty.
func dumpEnvelope(env eventEnvelope) string {
	var b strings.Builder
	b.WriteString("head=")
	b.WriteString(jsonString(env.Type) + "," + jsonString(env.Challenge) + "," + jsonString(env.EventID) + "," + jsonString(env.TeamID) + "," + jsonString(env.EnterpriseID))
	b.WriteString(" auths=")
	if env.Authorizations == nil {
		b.WriteString("nil")
	} else {
		j, _ := json.Marshal(env.Authorizations)
		b.Write(j)
	}
	b.WriteString(" event=")
	if env.Event == nil {
		b.WriteString("nil")
	} else {
		m := env.Event
		j, _ := json.Marshal([]string{m.Type, m.Channel, m.ChannelType, m.SubType, m.BotID, m.User, m.UserTeam, m.Text})
		b.Write(j)
		b.WriteString(" files=")
		if m.Files == nil {
			b.WriteString("nil")
		} else {
			b.WriteString(strings.Repeat("{}", len(m.Files)))
		}
		b.WriteString(" message=")
		switch {
		case m.Message == nil:
			b.WriteString("nil")
		case m.Message.Files == nil:
			b.WriteString("{files nil}")
		default:
			b.WriteString("{files " + strings.Repeat("{}", len(m.Message.Files)) + "}")
		}
	}
	return b.String()
}

// readerTexts are message texts as JSON (what goes in a fixture's $TEXT): plain, Slack's
// escaping, every JSON escape, a surrogate pair, lone surrogates, raw and invalid UTF-8,
// null, long.
var readerTexts = []string{
	`"hi"`,
	`"hi &amp; <@U2|sam> &lt;b&gt;"`,
	`""`,
	`"line\nnext\ttab \"quoted\" back\\slash \/slash \b\f\r"`,
	`"\u0026amp; \u003cok\u003e \u00e9t\u00E9 \u2028 \u0000 end"`,
	`"smile \ud83d\ude00 ok"`,
	`"lone high \ud83d then"`,
	`"lone low \ude00 then"`,
	`"high then escape \ud83d\n"`,
	`"two highs \ud83d\ud83d\ude00"`,
	`"reversed \ude00\ud83d"`,
	"\"raw UTF-8 \u00e9t\u00e9 \U0001F600 \u2028\"",
	"\"invalid UTF-8 \xff\xfe \xed\xa0\x80 \xc3\"",
	`null`,
	jsonString(strings.Repeat("a long answer & more ", 300)),
}

// eventFixtures are the Events API payloads in testdata/payloads, each with every text.
func eventFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "payloads", "*.txtar"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, path := range names {
		a, err := txtar.ParseFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range a.Files {
			if f.Name != "body" || !bytes.HasPrefix(f.Data, []byte("{")) || !bytes.Contains(f.Data, []byte(`"event"`)) {
				continue
			}
			name := strings.TrimSuffix(filepath.Base(path), ".txtar")
			for i, text := range readerTexts {
				s := strings.TrimSuffix(string(f.Data), "\n")
				for k, v := range map[string]string{"USER": "U1", "TEXT": text, "EVENT_ID": "Ev1", "TEAM": "T1", "ENTERPRISE": "E1", "TAB": "home"} {
					s = strings.ReplaceAll(s, "$"+k, v)
				}
				out[name+"/text"+string(rune('a'+i))] = []byte(s)
			}
		}
	}
	if len(out) < 9*len(readerTexts) {
		tb.Fatalf("%d Events API fixture bodies, want at least %d", len(out), 9*len(readerTexts))
	}
	return out
}

// readerBodies are the Events API bodies the package's tests and benchmarks send, besides
// the fixtures.
func readerBodies() map[string][]byte {
	h := &harness{}
	out := map[string][]byte{
		"harness":          h.messageBody("U1", "hi & <there>", "Ev1"),
		"kit":              kitEventBody("U1", "They might just be busy today & I am not sure.", 1),
		"url_verification": []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`),
		"app_home":         []byte(`{"type":"event_callback","team_id":"T1","event_id":"EvHOME","event":{"type":"app_home_opened","user":"U1","channel":"D1","tab":"messages"}}`),
	}
	for i, text := range readerTexts {
		if text != "null" {
			var s string
			_ = json.Unmarshal([]byte(text), &s)
			out["harness/text"+string(rune('a'+i))] = h.messageBody("U1", s, "Ev1")
		}
	}
	return out
}

// TestReadEnvelopeMatchesJSON: on every Events API fixture (each with texts in every
// escape), the bodies the tests send, and those bodies changed in the ways that matter
// (indented, keys in other cases or repeated, values of other types; and for one text of
// each, cut short at every byte and every byte replaced by a character that matters to
// JSON), readEnvelope gives exactly
// what encoding/json gives whenever it accepts a body; and it accepts every unchanged body.
func TestReadEnvelopeMatchesJSON(t *testing.T) {
	bodies := eventFixtures(t)
	for name, b := range readerBodies() {
		bodies[name] = b
	}
	// Small bodies with every empty, null and nested shape the reader takes: all accepted.
	for i, edge := range []string{
		`{}`, ` {} `, `{"authorizations":[]}`, `{"authorizations":null}`, `{"authorizations":[{}]}`,
		`{"authorizations":[{"user_id":null,"is_bot":null},{"is_bot":false},{"is_bot":true,"user_id":"U"}]}`,
		`{"event":null}`, `{"event":{}}`, `{"event":{"files":[]}}`, `{"event":{"files":null}}`, `{"event":{"files":[{}, {"a":{}}]}}`,
		`{"event":{"message":{}}}`, `{"event":{"message":null}}`, `{"event":{"message":{"files":[]}}}`, `{"event":{"message":{"files":null,"text":"x"}}}`,
		`{"type":null,"challenge":null,"event_id":null,"team_id":null,"enterprise_id":null}`,
		`{"event":{"type":null,"channel":null,"channel_type":null,"subtype":null,"bot_id":null,"user":null,"user_team":null,"text":null}}`,
		`{"x":{"type":1,"TYPE":[],"type":{}},"y":[{"event":1}]}`,
	} {
		bodies[fmt.Sprintf("edge%d", i)] = []byte(edge)
	}
	var accepted, variants, variantsAccepted int
	check := func(b []byte) {
		variants++
		if checkReadEnvelope(t, b) {
			variantsAccepted++
		}
	}
	for name, body := range bodies {
		if !checkReadEnvelope(t, body) {
			t.Errorf("%s: readEnvelope declines %s", name, body)
			continue
		}
		accepted++
		var indented bytes.Buffer
		if err := json.Indent(&indented, body, " ", "\t "); err == nil {
			if !checkReadEnvelope(t, indented.Bytes()) {
				t.Errorf("%s indented: declined", name)
			}
		}
		for _, r := range [][2]string{
			{`"type":`, `"Type":`}, {`"text":`, `"TEXT":`}, {`"user":`, `"usEr":`}, {`"event":`, `"Event":`},
			{`"is_bot":`, `"IS_BOT":`}, {`"files":`, `"Files":`}, {`"type":`, `"typ\u0065":`}, {`"type":`, `"t\u00ffpe":`},
			{`"user":`, `"user":"UDUP","user":`}, {`"text":`, `"text":"dup","text":`}, {`"event":`, `"event":{},"event":`},
			{`"event":`, `"event":null,"event":`}, {`"authorizations":`, `"authorizations":[],"authorizations":`},
			{`"type":"message"`, `"type":null`}, {`"type":"message"`, `"type":1`}, {`"text":`, `"text":1,"x":`},
			{`"is_bot":true`, `"is_bot":null`}, {`"is_bot":true`, `"is_bot":"true"`}, {`"is_bot":true`, `"is_bot":1`},
			{`"event":{`, `"event":null,"x":{`}, {`"event":{`, `"event":[],"x":{`}, {`"authorizations":[`, `"authorizations":null,"x":[`},
			{`"authorizations":[`, `"authorizations":[null,`}, {`"authorizations":[`, `"authorizations":[1,`},
			{`"files":[`, `"files":[null,`}, {`"files":[`, `"files":[[],`}, {`"files":[`, `"files":null,"x":[`},
			{`"channel_type":"im"`, `"channel_type":"im","files":[],"message":{"files":[{},{"a":[1,{"b":null}]}]}`},
			{`"channel_type":"im"`, `"channel_type":"im","message":null`},
			{`"channel_type":"im"`, `"channel_type":"im","message":{"Files":[]}`},
			{`"channel_type":"im"`, `"channel_type":"im","x":{"a":[[[[{"b":[-0.5e+10,0,1E-2,true,false,null,"\u00e9"]}]]]]}`},
			{`"event_time":`, `"event_time":-0,"n2":1.5e300,"n3":1e400,"n4":0.0,"event_tim":`},
			{`"event_time":`, `"event_time":01,"x":`}, {`"event_time":`, `"event_time":1.,"x":`}, {`"event_time":`, `"event_time":.5,"x":`},
			{`"event_time":`, `"event_time":+1,"x":`}, {`"event_time":`, `"event_time":1e,"x":`}, {`"event_time":`, `"event_time":-,"x":`},
			{`"token":`, `"token":"\x","y":`}, {`"token":`, `"token":"\u12","y":`}, {`"token":`, `"token":"a` + "\x01" + `","y":`},
			{`"token":`, `"token":tru,"y":`}, {`"token":`, `"token":nul,"y":`}, {`"token":`, `"token":[1,],"y":`}, {`"token":`, `"token":{"a":1,},"y":`},
			{`{`, "\ufeff{"}, {`{`, `[{`},
		} {
			if strings.Contains(string(body), r[0]) {
				check([]byte(strings.Replace(string(body), r[0], r[1], 1)))
			}
		}
		check(append(append([]byte{}, body...), " \n\t\r"...))
		check(append(append([]byte{}, body...), "x"...))
		check(append(append([]byte{}, body...), "{}"...))
		if !strings.HasSuffix(name, "/texta") && name != "kit" {
			continue // byte by byte: one text of each fixture is enough
		}
		for i := range body {
			check(body[:i])
			for _, c := range []byte{'"', '\\', '}', ']', ',', ':', '0', 'n', 0xff} {
				if body[i] != c {
					b := append([]byte{}, body...)
					b[i] = c
					check(b)
				}
			}
		}
	}
	t.Logf("%d bodies accepted; %d variants, %d of them accepted and equal to encoding/json's reading", accepted, variants, variantsAccepted)
}

// TestDecodeEnvelopeFallsBack: bodies the reader declines are read by encoding/json, as
// before it: the same envelope, and the fallback to slack-go when the event is no message.
func TestDecodeEnvelopeFallsBack(t *testing.T) {
	for _, tc := range []struct {
		body                  string
		wantType, wantEventID string
		wantFast              bool
	}{
		{`{"Type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","user":"U1"}}`, "event_callback", "Ev1", true},
		{`{"type":"event_callback","event_id":"Ev1","event_id":"Ev2","event":{"type":"message"}}`, "event_callback", "Ev2", true},
		{`{"type":"event_callback","event_id":"Ev1","event":{"type":"user_change","user":{"id":"U1"}}}`, "event_callback", "Ev1", false},
		{`{"type":"event_callback","event_id":"Ev1","event":"x"}`, "event_callback", "Ev1", false},
		{`{not json`, "", "", false},
	} {
		var declined eventEnvelope
		if readEnvelope([]byte(tc.body), &declined) {
			t.Errorf("readEnvelope accepts %s, want it declined", tc.body)
		}
		env, fast := decodeEnvelope([]byte(tc.body))
		if env.Type != tc.wantType || env.EventID != tc.wantEventID || fast != tc.wantFast {
			t.Errorf("decodeEnvelope(%s) = type %q, event_id %q, fast %v; want %q, %q, %v", tc.body, env.Type, env.EventID, fast, tc.wantType, tc.wantEventID, tc.wantFast)
		}
	}
}

// FuzzReadEnvelope: for any body, readEnvelope either declines it or reads exactly what
// encoding/json reads. The seeds are the fixtures and the bodies the tests send.
func FuzzReadEnvelope(f *testing.F) {
	for _, b := range eventFixtures(f) {
		f.Add(b)
	}
	for _, b := range readerBodies() {
		f.Add(b)
	}
	for _, s := range []string{
		`{"type":"event_callback","event":{"type":"message","text":"\ud83d\ude00\ud800\udc00\udbff\udfff\ud800x"}}`,
		`{"type":"event_callback","Event":{"type":"message"},"event":null}`,
		`{"event":{"files":[{},{}],"message":{"files":[{"x":[]}]}},"authorizations":[{"user_id":null,"is_bot":false},{}]}`,
		`{"a":[1,-2.5e-3,{"b":{"c":[true,false,null]}}],"type":"x"}`,
		`{"type":"\u0041\u00e9\u4e2d\ud83d"}`,
		"{\"type\":\"\xff\xc3\x28\"}",
		` {"challenge":"c","type":"url_verification"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkReadEnvelope(t, body)
	})
}
