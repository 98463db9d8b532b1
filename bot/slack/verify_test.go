package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// slackGoVerify is the check the adapter made before its own verifier: slack-go's.
func slackGoVerify(h http.Header, body []byte, secret string) error {
	if secret == "" {
		return errNoSecret
	}
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

// signText signs body with the timestamp text as sent (sign takes a number).
func signText(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// errText is an error's text, "" for nil: slack-go's errors from strconv and hex are new
// values each time, so they are compared by what they say.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nearWindowEdge reports whether the timestamp text is within 2 s of the edge of the
// 5-minute window: two checks a moment apart may then rightly disagree.
func nearWindowEdge(ts string) bool {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := time.Since(time.Unix(n, 0)).Abs()
	return (d - signatureWindow).Abs() < 2*time.Second
}

// TestVerifierMatchesSlackGo: on requests signed right and wrong in every way the headers
// allow, the adapter's verifier answers what slack-go's does, error for error.
func TestVerifierMatchesSlackGo(t *testing.T) {
	body := kitEventBody("U1", "hi & <there>", 1)
	now := time.Now().Unix()
	ts := strconv.FormatInt(now, 10)
	good := signText(testSecret, ts, body)
	cases := []struct {
		name     string
		sig, ts  string
		body     []byte
		accepted bool
	}{
		{"fresh", good, ts, body, true},
		{"uppercase hex", "v0=" + strings.ToUpper(good[3:]), ts, body, true},
		{"empty body", signText(testSecret, ts, nil), ts, nil, true},
		{"plus sign", signText(testSecret, "+"+ts, body), "+" + ts, body, true},
		{"leading zero", signText(testSecret, "0"+ts, body), "0" + ts, body, true},
		{"signed with another timestamp text", signText(testSecret, "0"+ts, body), ts, body, false},
		{"4 minutes old", signText(testSecret, strconv.FormatInt(now-240, 10), body), strconv.FormatInt(now-240, 10), body, true},
		{"4 minutes ahead", signText(testSecret, strconv.FormatInt(now+240, 10), body), strconv.FormatInt(now+240, 10), body, true},
		{"6 minutes old", signText(testSecret, strconv.FormatInt(now-360, 10), body), strconv.FormatInt(now-360, 10), body, false},
		{"6 minutes ahead", signText(testSecret, strconv.FormatInt(now+360, 10), body), strconv.FormatInt(now+360, 10), body, false},
		{"wrong secret", signText("not-the-secret", ts, body), ts, body, false},
		{"body changed", good, ts, append([]byte(" "), body...), false},
		{"no signature", "", ts, body, false},
		{"no timestamp", good, "", body, false},
		{"v1", "v1=" + good[3:], ts, body, false},
		{"no prefix", good[3:], ts, body, false},
		{"prefix only", "v0=", ts, body, false},
		{"odd length", good[:len(good)-1], ts, body, false},
		{"short", good[:len(good)-2], ts, body, false},
		{"long", good + "00", ts, body, false},
		{"not hex", good[:10] + "zz" + good[12:], ts, body, false},
		{"not hex, short", "v0=zz", ts, body, false},
		{"timestamp not a number", good, "now", body, false},
		{"timestamp with space", good, ts + " ", body, false},
		{"timestamp out of range", good, "99999999999999999999", body, false},
		{"timestamp min", good, "-9223372036854775808", body, false},
		{"timestamp max", good, "9223372036854775807", body, false},
		{"Slack's example (expired)", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "1531420618", body, false},
	}
	v := newVerifier(testSecret)
	for range 2 { // the second time round, every hash comes from the pool
		for _, tc := range cases {
			h := http.Header{}
			if tc.sig != "" {
				h.Set(headerSignature, tc.sig)
			}
			if tc.ts != "" {
				h.Set(headerTimestamp, tc.ts)
			}
			got, want := v.check(h, tc.body), slackGoVerify(h, tc.body, testSecret)
			if errText(got) != errText(want) {
				t.Errorf("%s: check = %v, slack-go %v", tc.name, got, want)
			}
			if (got == nil) != tc.accepted {
				t.Errorf("%s: check = %v, want accepted %v", tc.name, got, tc.accepted)
			}
		}
	}
	// Several values: both read the first.
	h := http.Header{headerSignature: {good, "v0=00"}, headerTimestamp: {ts, "1"}}
	if err := v.check(h, body); err != nil {
		t.Errorf("first of several values: check = %v, want nil", err)
	}
	if err := newVerifier("").check(http.Header{headerSignature: {good}, headerTimestamp: {ts}}, body); !errors.Is(err, errNoSecret) {
		t.Errorf("no secret: check = %v, want %v", err, errNoSecret)
	}
}

// TestVerifierPerSecret: two adapters' verifiers with different secrets, used at once from
// many goroutines, each accept exactly the requests signed with their own secret: a pooled
// hash never carries one secret, or one request's bytes, into another's check.
func TestVerifierPerSecret(t *testing.T) {
	secrets := []string{testSecret, "another-workspace-secret"}
	vs := []*verifier{newVerifier(secrets[0]), newVerifier(secrets[1])}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				body := []byte(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))
				by := (g + i) % 2
				h := http.Header{headerSignature: {signText(secrets[by], ts, body)}, headerTimestamp: {ts}}
				if i%3 == 0 {
					body = append(body, ' ') // tampered: neither may accept it
				}
				for k, v := range vs {
					err := v.check(h, body)
					if want := k == by && i%3 != 0; (err == nil) != want {
						t.Errorf("goroutine %d request %d signed with secret %d, checked with %d: %v, want accepted %v", g, i, by, k, err, want)
					}
				}
			}
		})
	}
	wg.Wait()
}

// FuzzVerifier: for any signature and timestamp headers and body, signed right or not, the
// adapter's verifier answers what slack-go's does.
func FuzzVerifier(f *testing.F) {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	f.Add("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "1531420618", []byte("x"), false)
	f.Add("", now, []byte(`{"type":"event_callback"}`), true)
	f.Add("v0=zz", "+"+now, []byte{}, false)
	f.Add("v0="+strings.Repeat("0", 64), now, []byte("a"), false)
	f.Add("", "0"+now, []byte("b"), true)
	f.Add("", "-1", []byte("b"), true)
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte, signRight bool) {
		if signRight {
			sig = signText(testSecret, ts, body)
		}
		if nearWindowEdge(ts) {
			return
		}
		h := http.Header{}
		if sig != "" {
			h.Set(headerSignature, sig)
		}
		if ts != "" {
			h.Set(headerTimestamp, ts)
		}
		v := newVerifier(testSecret)
		for range 2 {
			got, want := v.check(h, body), slackGoVerify(h, body, testSecret)
			if errText(got) != errText(want) {
				t.Fatalf("check(%q, %q) = %v, slack-go %v", h.Get(headerSignature), h.Get(headerTimestamp), got, want)
			}
		}
	})
}
