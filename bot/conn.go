package bot

// ConnState is where a platform's long-lived connection (the Discord gateway, Slack Socket
// Mode) stands.
type ConnState int

const (
	// ConnConnecting: starting, or reconnecting after the connection was lost.
	ConnConnecting ConnState = iota
	// ConnUp: connected and identified; events flow.
	ConnUp
	// ConnFailed: stopped for good until the configuration changes and storybot restarts
	// (a rejected token, a disallowed intent); the detail says what to fix.
	ConnFailed
)

func (s ConnState) String() string {
	switch s {
	case ConnConnecting:
		return "connecting"
	case ConnUp:
		return "up"
	case ConnFailed:
		return "failed"
	}
	return "unknown"
}

// ConnObserver hears about the life of a platform's connection, for metrics and readiness.
// Adapters call it from their connection loops, so implementations must be quick and safe
// for concurrent use. A reason is a short fixed word ("zombie", "reconnect_requested") fit
// for a metric label; a detail is a sentence for an operator. Neither ever holds a token,
// an ID or anything a user typed.
type ConnObserver interface {
	// ConnState reports a change of state; detail says why (empty when up).
	ConnState(platform string, s ConnState, detail string)
	// ConnReconnect counts one reconnection and its reason.
	ConnReconnect(platform, reason string)
	// ConnSession counts a session begun: resumed (events missed meanwhile are replayed)
	// or new.
	ConnSession(platform string, resumed bool)
	// ConnActivity notes that something arrived on the connection (an event, a heartbeat
	// acknowledgement, a ping): the connection is alive.
	ConnActivity(platform string)
}

// NopConnObserver observes nothing.
type NopConnObserver struct{}

func (NopConnObserver) ConnState(string, ConnState, string) {}
func (NopConnObserver) ConnReconnect(string, string)        {}
func (NopConnObserver) ConnSession(string, bool)            {}
func (NopConnObserver) ConnActivity(string)                 {}

var _ ConnObserver = NopConnObserver{}
