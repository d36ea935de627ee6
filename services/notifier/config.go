package notifier

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/notifier/policy"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Prefix of the notifier's environment variables.
const Prefix = "WSHEAL_NOTIFIER"

// ErrConfig is wrapped by Validate.
var ErrConfig = errors.New("notifier: bad config")

// Config is the notifier's configuration, read from WSHEAL_NOTIFIER_*.
type Config struct {
	service.NATS
	service.Log
	service.HTTP

	Instance string `envconfig:"INSTANCE" desc:"replica name, a subject token (default: the host name)"`
	// Listen and MetricsToken serve the operations endpoints.
	Listen       string        `envconfig:"LISTEN" default:"127.0.0.1:8098" desc:"HTTP address of /metrics, /healthz and /readyz (off: none)"`
	MetricsToken string        `envconfig:"METRICS_TOKEN" desc:"when set, /metrics requires Authorization: Bearer <token> (or it as the Basic auth password); /healthz and /readyz stay open"`
	GroupWindow  time.Duration `envconfig:"GROUP_WINDOW" default:"5m" desc:"anomalies of a group within it share an incident"`
	ReviewDelay  time.Duration `envconfig:"REVIEW_DELAY" default:"10s" desc:"wait for late events before the review"`
	Tick         time.Duration `envconfig:"TICK" default:"1s" desc:"escalation/repeat clock"`
	Replay       time.Duration `envconfig:"REPLAY" default:"1h" desc:"history a new consumer starts from"`
	Retention    time.Duration `envconfig:"RETENTION" default:"720h" desc:"resolved incidents kept this long in KV; 0 keeps them"`

	Escalation     string        `envconfig:"ESCALATION" default:"pagerduty,slack@10m;pagerduty,slack,webhook,alertmanager,alertmanager-webhook" desc:"escalation levels: sinks split by ',', levels by ';', '@timeout' before the next level"`
	PageSeverities string        `envconfig:"PAGE_SEVERITIES" default:"SEV1" desc:"severities paged at once, comma-separated (SEV1..SEV4)"`
	PageAfter      int           `envconfig:"PAGE_AFTER_FAILURES" default:"1" desc:"failed attempts that page; 0: only exhaustion/escalation"`
	UnhealedAfter  time.Duration `envconfig:"UNHEALED_AFTER" default:"15m" desc:"page when an incident is not resolved by then (0: never)"`
	Repeat         time.Duration `envconfig:"REPEAT" default:"1h" desc:"re-page an unacknowledged incident this often (0: never)"`
	SummarySinks   string        `envconfig:"SUMMARY_SINKS" default:"slack,webhook,alertmanager,alertmanager-webhook" desc:"where summaries of incidents healed without a page go"`

	WebhookURL          string        `envconfig:"WEBHOOK_URL" desc:"generic webhook sink URL (JSON, X-Wsheal-Signature HMAC-SHA256)"`
	WebhookSecret       string        `envconfig:"WEBHOOK_SECRET" desc:"HMAC key of the webhook signature"`
	SlackURL            string        `envconfig:"SLACK_URL" desc:"Slack incoming webhook URL"`
	PagerDutyRoutingKey string        `envconfig:"PAGERDUTY_ROUTING_KEY" desc:"PagerDuty Events API v2 routing key (enables the PagerDuty sink)"`
	PagerDutyURL        string        `envconfig:"PAGERDUTY_URL" default:"https://events.pagerduty.com/v2/enqueue" desc:"PagerDuty Events API v2 endpoint"`
	AlertmanagerAPIURL  string        `envconfig:"ALERTMANAGER_API_URL" desc:"base URL of a Prometheus Alertmanager (http://alertmanager:9093): the alertmanager sink posts incidents as alerts to its /api/v2/alerts"`
	AlertmanagerHold    time.Duration `envconfig:"ALERTMANAGER_HOLD" default:"24h" desc:"a firing incident's alert ends this long after it was last pushed (trigger, escalation, repeat) unless resolved first"`
	AMWebhookURL        string        `envconfig:"ALERTMANAGER_WEBHOOK_URL" desc:"URL of a receiver of Alertmanager's webhook payload (version 4): the alertmanager-webhook sink"`
	AlertmanagerURL     string        `envconfig:"ALERTMANAGER_URL" desc:"deprecated: the alertmanager-webhook sink's URL (use ALERTMANAGER_WEBHOOK_URL); without ALERTMANAGER_API_URL, 'alertmanager' in ESCALATION and SUMMARY_SINKS then names that sink, as it used to"`
	AlertmanagerName    string        `envconfig:"ALERTMANAGER_RECEIVER" default:"wsheal" desc:"receiver name in the alertmanager-webhook payload"`
	ExternalURL         string        `envconfig:"EXTERNAL_URL" desc:"link back to wsheal (e.g. the dashboard): the alerts' generatorURL and the webhook payload's externalURL"`

	HTTPTimeout   time.Duration `envconfig:"HTTP_TIMEOUT" default:"10s" desc:"bound on one sink request"`
	Rate          float64       `envconfig:"RATE" default:"1" desc:"messages per second per sink"`
	Burst         int           `envconfig:"BURST" default:"10" desc:"burst of each sink's rate limit"`
	RetryAttempts int           `envconfig:"RETRY_ATTEMPTS" default:"6" desc:"attempts per notification (429 and 5xx retry; other 4xx do not)"`
	RetryInitial  time.Duration `envconfig:"RETRY_INITIAL" default:"500ms" desc:"first retry delay (exponential, jittered; Retry-After honoured)"`
	RetryMax      time.Duration `envconfig:"RETRY_MAX" default:"30s" desc:"longest retry delay"`
}

// ConfigFromEnv reads and validates the configuration.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}

// Validate checks every value; messages name the variable.
func (c Config) Validate() error {
	if err := c.NATS.Validate(Prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Instance != "" && events.ValidateToken(c.Instance) != nil {
		return fmt.Errorf("%w: %s_INSTANCE=%q is not a subject token", ErrConfig, Prefix, c.Instance)
	}
	if _, err := c.Policy(); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"GROUP_WINDOW": c.GroupWindow, "TICK": c.Tick,
		"HTTP_TIMEOUT": c.HTTPTimeout, "RETRY_INITIAL": c.RetryInitial, "RETRY_MAX": c.RetryMax} {
		if d <= 0 {
			return fmt.Errorf("%w: %s_%s=%v must be positive", ErrConfig, Prefix, name, d)
		}
	}
	for name, d := range map[string]time.Duration{"REVIEW_DELAY": c.ReviewDelay, "REPLAY": c.Replay,
		"UNHEALED_AFTER": c.UnhealedAfter, "REPEAT": c.Repeat, "RETENTION": c.Retention} {
		if d < 0 {
			return fmt.Errorf("%w: %s_%s=%v is negative", ErrConfig, Prefix, name, d)
		}
	}
	switch {
	case c.Rate < 0:
		return fmt.Errorf("%w: %s_RATE=%v is negative", ErrConfig, Prefix, c.Rate)
	case c.PageAfter < 0:
		return fmt.Errorf("%w: %s_PAGE_AFTER_FAILURES=%d is negative", ErrConfig, Prefix, c.PageAfter)
	case c.Burst < 1:
		return fmt.Errorf("%w: %s_BURST=%d, want at least 1", ErrConfig, Prefix, c.Burst)
	case c.RetryAttempts < 1 || c.RetryAttempts > 20:
		return fmt.Errorf("%w: %s_RETRY_ATTEMPTS=%d, want 1..20", ErrConfig, Prefix, c.RetryAttempts)
	case c.AlertmanagerAPIURL != "" && c.AlertmanagerHold < time.Minute:
		return fmt.Errorf("%w: %s_ALERTMANAGER_HOLD=%v, want at least 1m", ErrConfig, Prefix, c.AlertmanagerHold)
	case c.AlertmanagerURL != "" && c.AMWebhookURL != "" && c.AlertmanagerURL != c.AMWebhookURL:
		return fmt.Errorf("%w: %s_ALERTMANAGER_URL (deprecated) and %s_ALERTMANAGER_WEBHOOK_URL differ: set only ALERTMANAGER_WEBHOOK_URL",
			ErrConfig, Prefix, Prefix)
	}
	if err := service.ValidateListen(Prefix+"_LISTEN", c.Listen); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	h := c.HTTP
	h.Defaults()
	if err := h.Validate(Prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for name, u := range map[string]string{"WEBHOOK_URL": c.WebhookURL, "SLACK_URL": c.SlackURL,
		"PAGERDUTY_URL": c.PagerDutyURL, "ALERTMANAGER_URL": c.AlertmanagerURL,
		"ALERTMANAGER_API_URL": c.AlertmanagerAPIURL, "ALERTMANAGER_WEBHOOK_URL": c.AMWebhookURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%w: %s_%s=%q is not an http(s) URL", ErrConfig, Prefix, name, u)
		}
	}
	return nil
}

// Deprecated reports whether the old ALERTMANAGER_URL configures the
// alertmanager-webhook sink with no Alertmanager API configured: then
// "alertmanager" in ESCALATION and SUMMARY_SINKS still names the
// webhook-format sink, as it did before the API v2 sink existed.
func (c Config) Deprecated() bool { return c.AlertmanagerURL != "" && c.AlertmanagerAPIURL == "" }

// WebhookFormatURL is the alertmanager-webhook sink's URL.
func (c Config) WebhookFormatURL() string {
	if c.AMWebhookURL != "" {
		return c.AMWebhookURL
	}
	return c.AlertmanagerURL
}

// rename maps the old sink name to the webhook-format sink in deprecated mode.
func (c Config) rename(sinks []string) []string {
	if !c.Deprecated() {
		return sinks
	}
	out := make([]string, 0, len(sinks))
	for _, s := range sinks {
		if s == sink.Alertmanager {
			s = sink.AlertmanagerWebhook
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Policy builds the paging policy from the config.
func (c Config) Policy() (policy.Policy, error) {
	levels, err := policy.ParseLevels(c.Escalation, sink.Names)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("%w: %s_ESCALATION: %w", ErrConfig, Prefix, err)
	}
	sevs, err := policy.ParseSeverities(c.PageSeverities)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("%w: %s_PAGE_SEVERITIES: %w", ErrConfig, Prefix, err)
	}
	summary, err := policy.ParseSinks(c.SummarySinks, sink.Names)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("%w: %s_SUMMARY_SINKS: %w", ErrConfig, Prefix, err)
	}
	for i := range levels {
		levels[i].Sinks = c.rename(levels[i].Sinks)
	}
	summary = c.rename(summary)
	return policy.Policy{Levels: levels, PageAtOnce: sevs, PageAfterFailures: c.PageAfter,
		UnhealedAfter: c.UnhealedAfter, Repeat: c.Repeat, SummarySinks: summary}, nil
}

// Sinks are the configured sinks.
func (c Config) Sinks() []string {
	var out []string
	if c.WebhookURL != "" {
		out = append(out, sink.Webhook)
	}
	if c.SlackURL != "" {
		out = append(out, sink.Slack)
	}
	if c.PagerDutyRoutingKey != "" {
		out = append(out, sink.PagerDuty)
	}
	if c.AlertmanagerAPIURL != "" {
		out = append(out, sink.Alertmanager)
	}
	if c.WebhookFormatURL() != "" {
		out = append(out, sink.AlertmanagerWebhook)
	}
	return out
}
