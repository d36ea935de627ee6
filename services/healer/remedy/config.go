package remedy

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/safety"
)

// Config tunes the engine. Its settings carry their envconfig variables
// (names under a service's prefix, defaults and descriptions), as do the
// embedded settings of the gates and brakes it runs, so a service embeds
// Config in its own and reads it with envconfig; Now is set at run time.
type Config struct {
	// DryRun is the default of the dry-run switch until an operator sets it.
	DryRun      bool          `envconfig:"DRY_RUN" default:"false" desc:"start in dry-run: decide and publish, act never"`
	Durable     string        `envconfig:"DURABLE" default:"wsheal-healer" desc:"durable consumer the replicas share on the anomalies stream"`
	AckWait     time.Duration `envconfig:"ACK_WAIT" default:"30s" desc:"redelivery to another replica after one goes silent mid-action"`
	MaxInFlight int           `envconfig:"MAX_IN_FLIGHT" default:"64" desc:"anomalies handled at once"`
	Replay      time.Duration `envconfig:"REPLAY" default:"10m" desc:"how far back a new consumer starts"`
	safety.Backoff
	// Budget is shared by every replica.
	safety.Budget
	BlastShare float64       `envconfig:"BLAST_SHARE" default:"0.5" desc:"most of the fleet draining or out at once, counted after the action"`
	PanicShare float64       `envconfig:"PANIC_SHARE" default:"0.5" desc:"with more of the fleet unhealthy than this, act never and escalate"`
	RetryCap   int           `envconfig:"RETRY_CAP" default:"3" desc:"failed verifications per incident before the healer stops and escalates"`
	FlapHeals  int           `envconfig:"FLAP_HEALS" default:"3" desc:"heals within FLAP_WINDOW after which a node is quarantined and escalated"`
	FlapWindow time.Duration `envconfig:"FLAP_WINDOW" default:"10m" desc:"window of the flap detector"`
	// Poll is the interval of the verification polls; Wait of the
	// re-evaluation while paused or blocked.
	Poll      time.Duration `envconfig:"VERIFY_POLL" default:"250ms" desc:"how often a post-condition is checked"`
	Wait      time.Duration `envconfig:"WAIT" default:"5s" desc:"re-evaluation interval while paused or blocked by a safety rule"`
	DrainOver time.Duration `envconfig:"DRAIN_OVER" default:"10s" desc:"how long a drain or rebalance spreads its reconnect hints"`
	// MaxAge: an anomaly open longer is escalated and dropped; CaseTTL:
	// finished cases are forgotten after this.
	MaxAge  time.Duration `envconfig:"MAX_AGE" default:"1h" desc:"an anomaly open longer than this is escalated and dropped"`
	CaseTTL time.Duration `envconfig:"INCIDENT_TTL" default:"24h" desc:"finished incidents are forgotten after this"`
	// Learn tunes how the record orders a policy's ladder (gate.Choose).
	gate.Learn
	// Scale bounds the fleet's size and spaces its scales (gate.Scale).
	gate.Scale
	// Now is the clock of every gate (backoff, flapping, age, budget,
	// restore hold); default time.Now. Tests pass a fake one.
	Now func() time.Time `ignored:"true"`
}

// Validate fails on a value the engine cannot work with, naming its
// variable under prefix (the service's, e.g. WSHEAL_HEALER).
func (c Config) Validate(prefix string) error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%s_%s=%v: want %s", prefix, name, v, want)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ACK_WAIT", c.AckWait}, {"FLAP_WINDOW", c.FlapWindow}, {"VERIFY_POLL", c.Poll}, {"WAIT", c.Wait},
		{"DRAIN_OVER", c.DrainOver}, {"MAX_AGE", c.MaxAge}, {"INCIDENT_TTL", c.CaseTTL}} {
		if d.v <= 0 {
			return bad(d.name, d.v, "a positive duration")
		}
	}
	switch {
	case c.AckWait < time.Second:
		return bad("ACK_WAIT", c.AckWait, "at least 1s")
	case c.MaxInFlight < 1 || c.MaxInFlight > 10000:
		return bad("MAX_IN_FLIGHT", c.MaxInFlight, "1..10000")
	case c.Replay < 0:
		return bad("REPLAY", c.Replay, "0 or more")
	case c.BlastShare <= 0 || c.BlastShare > 1:
		return bad("BLAST_SHARE", c.BlastShare, "a share in (0, 1]")
	case c.PanicShare <= 0 || c.PanicShare > 1:
		return bad("PANIC_SHARE", c.PanicShare, "a share in (0, 1]")
	case c.RetryCap < 1 || c.RetryCap > 100:
		return bad("RETRY_CAP", c.RetryCap, "1..100")
	case c.FlapHeals < 1:
		return bad("FLAP_HEALS", c.FlapHeals, "at least 1")
	case c.Durable == "":
		return bad("DURABLE", c.Durable, "a consumer name")
	}
	for _, validate := range []func(string) error{c.Backoff.Validate, c.Budget.Validate, c.Learn.Validate, c.Scale.Validate} {
		if err := validate(prefix); err != nil {
			return err
		}
	}
	return nil
}
