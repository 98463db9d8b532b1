package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/storybot/storybot/storage"
)

// TestWrongKeyCanary: a restart with a key that cannot read the stored data stops at start,
// naming the key ids to list; `keys check` shows the same; listing both keys starts.
func TestWrongKeyCanary(t *testing.T) {
	mr := miniredis.RunT(t)
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	idA, idB := storage.KeyID(bytes.Repeat([]byte{1}, 32)), storage.KeyID(bytes.Repeat([]byte{2}, 32))
	serve := func(key string) (string, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stdout := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, env(map[string]string{
				"REDIS_URL": "redis://" + mr.Addr(), "STORYBOT_ENCRYPTION_KEY": key}), nil, stdout, &syncBuffer{})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stdout.String(), "listening on") {
			select {
			case err := <-done:
				return stdout.String(), err
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("serve neither started nor failed")
			}
		}
		cancel()
		return stdout.String(), <-done
	}
	if _, err := serve(keyA); err != nil {
		t.Fatalf("first start with key A: %v", err)
	}
	out, err := serve(keyB)
	if err == nil {
		t.Fatal("serve started with a key that cannot read the stored data")
	}
	for _, want := range []string{idA, idB, "STORYBOT_ENCRYPTION_KEY=new,old", "keys check"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("wrong-key error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(out, "listening on") {
		t.Error("serve listened with the wrong key")
	}
	if _, err := serve(keyB + "," + keyA); err != nil {
		t.Fatalf("start with B,A: %v", err)
	}
	var report bytes.Buffer
	if err := run(context.Background(), []string{"keys", "check"}, env(map[string]string{
		"REDIS_URL": "redis://" + mr.Addr(), "STORYBOT_ENCRYPTION_KEY": keyB + "," + keyA}), nil, &report, &bytes.Buffer{}); err != nil {
		t.Fatalf("keys check: %v\n%s", err, report.String())
	}
	// Nothing was written with A but its canary: it protects nothing and is retired, so B
	// alone now starts.
	if !strings.Contains(report.String(), idA) || !strings.Contains(report.String(), "retired from the key ring") {
		t.Errorf("keys check report:\n%s", report.String())
	}
	if _, err := serve(keyB); err != nil {
		t.Errorf("start with B alone after keys check retired A: %v", err)
	}
}

func TestServeRefusesNewerSchema(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.Set("sb:schema", "99")
	err := run(context.Background(), []string{"serve", "--dev", "--listen", "127.0.0.1:0"}, env(map[string]string{"REDIS_URL": "redis://" + mr.Addr()}), nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("serve against schema 99 = %v", err)
	}
}
