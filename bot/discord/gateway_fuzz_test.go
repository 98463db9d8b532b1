package discord

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/storybot/storybot/bot"
)

type nopHandler struct{}

func (nopHandler) Handle(context.Context, bot.Event) error { return nil }

// FuzzGatewayMessage feeds arbitrary gateway messages through the decoding the gateway
// client and the adapter do: nothing may panic, whatever Discord (or a proxy) sends.
func FuzzGatewayMessage(f *testing.F) {
	for _, s := range []string{
		`{"op":10,"d":{"heartbeat_interval":41250}}`,
		`{"op":0,"t":"READY","s":1,"d":{"v":10,"session_id":"s","resume_gateway_url":"wss://r","user":{"id":"1"},"shard":[0,1]}}`,
		`{"op":0,"t":"MESSAGE_CREATE","s":2,"d":{"id":"9","channel_id":"c","type":0,"content":"/story quick","author":{"id":"u"}}}`,
		`{"op":0,"t":"INTERACTION_CREATE","s":3,"d":{"id":"i","type":3,"token":"t","data":{"custom_id":"x","component_type":2}}}`,
		`{"op":0,"t":"INTERACTION_CREATE","s":3,"d":{"id":"i","type":2,"data":{"options":[{"type":1}]}}}`,
		`{"op":9,"d":true}`, `{"op":9,"d":false}`, `{"op":7,"d":null}`, `{"op":11}`, `{"op":1,"d":null}`,
		`{"op":0,"t":"READY","d":null}`, `{"op":0,"t":"MESSAGE_CREATE","d":[]}`, `[]`, `{"op":"x"}`,
	} {
		f.Add([]byte(s))
	}
	a, err := New(Config{AppID: "app", Logger: quiet, WorkTimeout: time.Second}, nopHandler{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayload(b)
		if err != nil {
			return
		}
		a.onDispatch(p.T, p.D)
		classifyClose(p.Op)
	})
}

func TestDMSeen(t *testing.T) {
	var d dmSeen
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range maxSeenChannels + 5 {
		d.note(fmt.Sprint("c", i), t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(d.channels); n != maxSeenChannels {
		t.Errorf("remembered %d channels, want the bound %d", n, maxSeenChannels)
	}
	if _, ok := d.channels["c0"]; ok {
		t.Error("the quietest channel was kept when full")
	}
	got := d.since(t0.Add(time.Duration(maxSeenChannels)*time.Second), 3)
	if want := []string{fmt.Sprint("c", maxSeenChannels+4), fmt.Sprint("c", maxSeenChannels+3), fmt.Sprint("c", maxSeenChannels+2)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("since = %v, want %v (most recent first, at most 3)", got, want)
	}
	if s := snowflakeAt(time.UnixMilli(1420070400000 + 1000)); s != fmt.Sprint(int64(1000)<<22) {
		t.Errorf("snowflakeAt = %s", s)
	}
}
