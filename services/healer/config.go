package healer

import (
	"errors"
	"fmt"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/healer/policy"
)

// EnvPrefix prefixes every variable of the healer's config.
const EnvPrefix = "WSHEAL_HEALER"

// DefaultPolicies is the built-in policy file (YAML), printed by
// `wsheal healer policies`.
var DefaultPolicies = policy.DefaultYAML

// ErrConfig wraps every invalid setting.
var ErrConfig = errors.New("healer: config")

// Config is the healer's configuration, read from WSHEAL_HEALER_* variables.
type Config struct {
	service.NATS
	service.Log

	Instance       string        `envconfig:"INSTANCE"`
	Policies       string        `envconfig:"POLICIES"`
	DryRun         bool          `envconfig:"DRY_RUN" default:"false"`
	Restart        string        `envconfig:"RESTART" default:"auto"`
	DockerSocket   string        `envconfig:"DOCKER_SOCKET" default:"/var/run/docker.sock"`
	DockerLabel    string        `envconfig:"DOCKER_LABEL" default:"io.wsheal.node"`
	DockerGrace    time.Duration `envconfig:"DOCKER_GRACE" default:"10s"`
	CommandTimeout time.Duration `envconfig:"COMMAND_TIMEOUT" default:"5s"`
	WebhookTimeout time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s"`
	Durable        string        `envconfig:"DURABLE" default:"wsheal-healer"`
	AckWait        time.Duration `envconfig:"ACK_WAIT" default:"30s"`
	MaxInFlight    int           `envconfig:"MAX_IN_FLIGHT" default:"64"`
	Replay         time.Duration `envconfig:"REPLAY" default:"10m"`
	BackoffBase    time.Duration `envconfig:"BACKOFF_BASE" default:"5s"`
	BackoffMax     time.Duration `envconfig:"BACKOFF_MAX" default:"5m"`
	HealthyPeriod  time.Duration `envconfig:"HEALTHY_PERIOD" default:"2m"`
	BudgetRate     float64       `envconfig:"BUDGET_RATE" default:"0.5"`
	BudgetBurst    int           `envconfig:"BUDGET_BURST" default:"10"`
	BlastShare     float64       `envconfig:"BLAST_SHARE" default:"0.5"`
	PanicShare     float64       `envconfig:"PANIC_SHARE" default:"0.5"`
	RetryCap       int           `envconfig:"RETRY_CAP" default:"3"`
	FlapHeals      int           `envconfig:"FLAP_HEALS" default:"3"`
	FlapWindow     time.Duration `envconfig:"FLAP_WINDOW" default:"10m"`
	NodeStale      time.Duration `envconfig:"NODE_STALE" default:"3s"`
	NodeForget     time.Duration `envconfig:"NODE_FORGET" default:"10m"`
	VerifyPoll     time.Duration `envconfig:"VERIFY_POLL" default:"250ms"`
	Wait           time.Duration `envconfig:"WAIT" default:"5s"`
	DrainOver      time.Duration `envconfig:"DRAIN_OVER" default:"10s"`
	MaxAge         time.Duration `envconfig:"MAX_AGE" default:"1h"`
	IncidentTTL    time.Duration `envconfig:"INCIDENT_TTL" default:"24h"`
	Heartbeat      time.Duration `envconfig:"HEARTBEAT" default:"1s"`
}

// ConfigFromEnv reads and validates the config.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process(EnvPrefix, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}

// Validate checks every value and names the variable at fault.
func (c Config) Validate() error {
	if err := c.NATS.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s_%s=%v: want %s", ErrConfig, EnvPrefix, name, v, want)
	}
	positive := map[string]time.Duration{
		"DOCKER_GRACE": c.DockerGrace, "COMMAND_TIMEOUT": c.CommandTimeout, "WEBHOOK_TIMEOUT": c.WebhookTimeout,
		"ACK_WAIT": c.AckWait, "BACKOFF_BASE": c.BackoffBase, "BACKOFF_MAX": c.BackoffMax,
		"HEALTHY_PERIOD": c.HealthyPeriod, "FLAP_WINDOW": c.FlapWindow, "NODE_STALE": c.NodeStale,
		"NODE_FORGET": c.NodeForget, "VERIFY_POLL": c.VerifyPoll, "WAIT": c.Wait, "DRAIN_OVER": c.DrainOver,
		"MAX_AGE": c.MaxAge, "HEARTBEAT": c.Heartbeat, "INCIDENT_TTL": c.IncidentTTL,
	}
	for _, name := range []string{"DOCKER_GRACE", "COMMAND_TIMEOUT", "WEBHOOK_TIMEOUT", "ACK_WAIT", "BACKOFF_BASE",
		"BACKOFF_MAX", "HEALTHY_PERIOD", "FLAP_WINDOW", "NODE_STALE", "NODE_FORGET", "VERIFY_POLL", "WAIT",
		"DRAIN_OVER", "MAX_AGE", "HEARTBEAT", "INCIDENT_TTL"} {
		if positive[name] <= 0 {
			return bad(name, positive[name], "a positive duration")
		}
	}
	switch {
	case c.Restart != "auto" && c.Restart != "docker" && c.Restart != "dev" && c.Restart != "off":
		return bad("RESTART", c.Restart, "auto, docker, dev or off")
	case c.AckWait < time.Second:
		return bad("ACK_WAIT", c.AckWait, "at least 1s")
	case c.MaxInFlight < 1 || c.MaxInFlight > 10000:
		return bad("MAX_IN_FLIGHT", c.MaxInFlight, "1..10000")
	case c.Replay < 0:
		return bad("REPLAY", c.Replay, "0 or more")
	case c.BudgetRate <= 0:
		return bad("BUDGET_RATE", c.BudgetRate, "actions per second, more than 0")
	case c.BudgetBurst < 1:
		return bad("BUDGET_BURST", c.BudgetBurst, "at least 1")
	case c.BlastShare <= 0 || c.BlastShare > 1:
		return bad("BLAST_SHARE", c.BlastShare, "a share in (0, 1]")
	case c.PanicShare <= 0 || c.PanicShare > 1:
		return bad("PANIC_SHARE", c.PanicShare, "a share in (0, 1]")
	case c.RetryCap < 1 || c.RetryCap > 100:
		return bad("RETRY_CAP", c.RetryCap, "1..100")
	case c.FlapHeals < 1:
		return bad("FLAP_HEALS", c.FlapHeals, "at least 1")
	case c.DockerLabel == "":
		return bad("DOCKER_LABEL", c.DockerLabel, "a label key")
	case c.Durable == "":
		return bad("DURABLE", c.Durable, "a consumer name")
	}
	if _, err := policy.Load(c.Policies); err != nil {
		return fmt.Errorf("%w: %s_POLICIES: %w", ErrConfig, EnvPrefix, err)
	}
	return nil
}
