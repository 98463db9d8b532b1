package discord

import (
	"encoding/json"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// interactionSeeds are interaction bodies in the shape of Discord's docs ("Interaction
// Object", "Application Command Data", "Message Component Data", "Modal Submit Data"; field
// names as in discord-api-types' APIChatInputApplicationCommandInteraction and friends),
// plus the nulls and missing fields real traffic and the issue showed ("options":[null]).
var interactionSeeds = []string{
	`{"id":"1","application_id":"app","type":2,"token":"tok","version":1,"guild_id":"g1","channel_id":"c1","member":{"user":{"id":"u1","username":"sam"}},"data":{"id":"cmd","name":"story","type":1,"options":[{"name":"pause","type":1,"options":[{"name":"what","type":3,"value":"they left"}]}]}}`,
	`{"id":"1","application_id":"app","type":2,"token":"tok","version":1,"user":{"id":"u1"},"context":1,"data":{"id":"cmd","name":"story","type":1,"options":[{"name":"coach","type":2,"options":[{"name":"invite","type":1,"options":[{"name":"user","type":6,"value":"u2"}]}]}],"resolved":{"users":{"u2":{"id":"u2"}}}}}`,
	`{"id":"1","type":2,"token":"tok","user":{"id":"u1"},"data":{"name":"story","options":[null]}}`,
	`{"id":"1","type":2,"token":"tok","user":{"id":"u1"},"data":{"name":"story","options":[{"name":"coach","type":2,"options":[null]}]}}`,
	`{"id":"1","type":2,"token":"tok","user":{"id":"u1"},"data":{"name":"story","options":[{"name":"checkin","type":1,"options":[null,{"name":"schedule","type":3,"value":null}]}]}}`,
	`{"id":"1","type":2,"token":"tok","user":{"id":"u1"},"data":{"name":"Pause on this message","type":3,"target_id":"m1","resolved":{"messages":{"m1":null}}}}`,
	`{"id":"1","type":4,"token":"tok","user":{"id":"u1"},"data":{"name":"story","options":[{"name":"tz","type":1,"options":[{"name":"zone","type":3,"value":"Eur","focused":true}]}]}}`,
	`{"id":"1","type":3,"token":"tok","user":{"id":"u1"},"message":{"id":"m","content":"Feeling?","components":[{"type":1,"components":[{"type":2,"custom_id":"sb:c:anxious","label":"Anxious","style":1}]}]},"data":{"custom_id":"sb:c:anxious","component_type":2}}`,
	`{"id":"1","type":3,"token":"tok","user":{"id":"u1"},"message":null,"data":{"custom_id":null}}`,
	`{"id":"1","type":5,"token":"tok","user":{"id":"u1"},"data":{"custom_id":"sb:answer","components":[{"type":1,"components":[{"type":4,"custom_id":"answer","value":"hi"}]}]}}`,
	`{"id":"1","type":5,"token":"tok","user":{"id":"u1"},"data":{"custom_id":"sb:answer","components":[null,{"type":1,"components":null}]}}`,
	`{"id":"1","type":2,"token":"tok","member":{"user":null},"user":null,"data":{}}`,
	`{"id":"1","type":1}`,
}

// FuzzInteractionParsing feeds arbitrary interaction bodies through what the adapter does
// with a verified one: decode, then translate. Nothing may panic.
func FuzzInteractionParsing(f *testing.F) {
	for _, s := range interactionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var i discordgo.Interaction
		if err := json.Unmarshal(b, &i); err != nil {
			return
		}
		_ = interactionUser(&i)
		resp, ev := interactionEvent(&i)
		if ev != nil && (resp == nil || ev.User.User == "") {
			t.Errorf("event %+v with response %v", ev, resp)
		}
	})
}

// TestNullOptionsDoNotPanic: the payloads of the issue ("options":[null] and friends) are
// answered or ignored, never a panic.
func TestNullOptionsDoNotPanic(t *testing.T) {
	for _, s := range interactionSeeds {
		var i discordgo.Interaction
		if err := json.Unmarshal([]byte(s), &i); err != nil {
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("interactionEvent(%s) panicked: %v", s, p)
				}
			}()
			interactionEvent(&i)
		}()
	}
}
