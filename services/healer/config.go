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
	service.Fleet
	service.HTTP

	Instance string `envconfig:"INSTANCE" desc:"replica name, a subject token (default: the host name)"`
	// Listen and MetricsToken serve the operations endpoints.
	Listen       string `envconfig:"LISTEN" default:"127.0.0.1:8095" desc:"HTTP address of /metrics, /healthz and /readyz (off: none)"`
	MetricsToken string `envconfig:"METRICS_TOKEN" desc:"when set, /metrics requires Authorization: Bearer <token> (or it as the Basic auth password); /healthz and /readyz stay open"`
	// SwitchIdentity and TrustRequestInfo decide whom a switch (pause,
	// resume, dryrun, handsoff) is recorded as coming from.
	SwitchIdentity   string        `envconfig:"SWITCH_IDENTITY" default:"operator" desc:"the NATS user(s) that the NATS permissions let publish healer switches (pause, resume, dryrun, handsoff); recorded as who asked when the request carries no server-set identity"`
	TrustRequestInfo bool          `envconfig:"TRUST_REQUEST_INFO" default:"false" desc:"believe the Nats-Request-Info header of a switch request (set it only when switches reach the healer through an account service import with share: true, where nats-server writes the header; in one account a client can forge it)"`
	Policies         string        `envconfig:"POLICIES" desc:"policy file (YAML or JSON); empty: the built-in policies ('wsheal healer policies' prints them)"`
	DryRun           bool          `envconfig:"DRY_RUN" default:"false" desc:"start in dry-run: decide and publish, act never"`
	Restart          string        `envconfig:"RESTART" default:"auto" desc:"restart executor: docker (Engine API), kubernetes (drain, then evict the node's pod; KUBE_* settings), dev (the wsheal dev supervisor), auto (the dev supervisor if one answers, else Docker) or off"`
	DockerSocket     string        `envconfig:"DOCKER_SOCKET" default:"/var/run/docker.sock" desc:"Docker Engine API socket of the restart executor"`
	DockerLabel      string        `envconfig:"DOCKER_LABEL" default:"io.wsheal.node" desc:"container label whose value names the node"`
	DockerGrace      time.Duration `envconfig:"DOCKER_GRACE" default:"10s" desc:"seconds Docker waits for a container to stop before killing it"`
	Kube             KubeConfig
	CommandTimeout   time.Duration `envconfig:"COMMAND_TIMEOUT" default:"5s" desc:"bound on one gateway command request"`
	WebhookTimeout   time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s" desc:"bound on one runbook webhook call"`
	Durable          string        `envconfig:"DURABLE" default:"wsheal-healer" desc:"durable consumer the replicas share on the anomalies stream"`
	AckWait          time.Duration `envconfig:"ACK_WAIT" default:"30s" desc:"redelivery to another replica after one goes silent mid-action"`
	MaxInFlight      int           `envconfig:"MAX_IN_FLIGHT" default:"64" desc:"anomalies handled at once"`
	Replay           time.Duration `envconfig:"REPLAY" default:"10m" desc:"how far back a new consumer starts"`
	BackoffBase      time.Duration `envconfig:"BACKOFF_BASE" default:"5s" desc:"first delay of the per (target, action) backoff"`
	BackoffMax       time.Duration `envconfig:"BACKOFF_MAX" default:"5m" desc:"longest per (target, action) backoff"`
	HealthyPeriod    time.Duration `envconfig:"HEALTHY_PERIOD" default:"2m" desc:"a target must stay healthy this long before its backoff resets"`
	BudgetRate       float64       `envconfig:"BUDGET_RATE" default:"0.5" desc:"global action budget: actions per second"`
	BudgetBurst      int           `envconfig:"BUDGET_BURST" default:"10" desc:"global action budget: burst"`
	BlastShare       float64       `envconfig:"BLAST_SHARE" default:"0.5" desc:"most of the fleet draining or out at once, counted after the action"`
	PanicShare       float64       `envconfig:"PANIC_SHARE" default:"0.5" desc:"with more of the fleet unhealthy than this, act never and escalate"`
	RetryCap         int           `envconfig:"RETRY_CAP" default:"3" desc:"failed verifications per incident before the healer stops and escalates"`
	FlapHeals        int           `envconfig:"FLAP_HEALS" default:"3" desc:"heals within FLAP_WINDOW after which a node is quarantined and escalated"`
	FlapWindow       time.Duration `envconfig:"FLAP_WINDOW" default:"10m" desc:"window of the flap detector"`
	NodeForget       time.Duration `envconfig:"NODE_FORGET" default:"10m" desc:"a node silent this long leaves the healer's fleet view"`
	VerifyPoll       time.Duration `envconfig:"VERIFY_POLL" default:"250ms" desc:"how often a post-condition is checked"`
	Wait             time.Duration `envconfig:"WAIT" default:"5s" desc:"re-evaluation interval while paused or blocked by a safety rule"`
	DrainOver        time.Duration `envconfig:"DRAIN_OVER" default:"10s" desc:"how long a drain or rebalance spreads its reconnect hints"`
	MaxAge           time.Duration `envconfig:"MAX_AGE" default:"1h" desc:"an anomaly open longer than this is escalated and dropped"`
	IncidentTTL      time.Duration `envconfig:"INCIDENT_TTL" default:"24h" desc:"finished incidents are forgotten after this"`
	Heartbeat        time.Duration `envconfig:"HEARTBEAT" default:"1s" desc:"interval of the healer's service heartbeat"`
	DemoteAfter      int           `envconfig:"DEMOTE_AFTER" default:"3" desc:"a remedy that failed this many times in a row for an anomaly kind is tried after the others (0: never)"`
	ExploreEvery     int           `envconfig:"EXPLORE_EVERY" default:"10" desc:"one case in this many (by a hash of its anomaly id) tries the least-tried other remedy of a learned ladder first (0: never)"`
	ExploreMin       int           `envconfig:"EXPLORE_MIN" default:"3" desc:"exploration starts once the best remedy of a ladder has this many attempts in the record"`
	ScaleMin         int           `envconfig:"SCALE_MIN" default:"1" desc:"fewest gateway nodes accepting clients that a scale-in (fleet_underused) leaves"`
	ScaleMax         int           `envconfig:"SCALE_MAX" default:"10" desc:"most gateway nodes a scale-out (fleet_saturated) reaches, unhealthy ones counted; at it the healer escalates instead"`
	ScaleCooldown    time.Duration `envconfig:"SCALE_COOLDOWN" default:"2m" desc:"least time after any scale of the fleet before a scale-out"`
	ScaleInCooldown  time.Duration `envconfig:"SCALE_IN_COOLDOWN" default:"5m" desc:"least time after any scale of the fleet before a scale-in (longer: a fleet just grown is not shrunk while its load settles)"`
}

// KubeConfig is the Kubernetes executor's part of the config
// (WSHEAL_HEALER_KUBE_*), used with RESTART=kubernetes.
type KubeConfig struct {
	Kubeconfig     string        `envconfig:"KUBECONFIG" desc:"kubeconfig file of the Kubernetes executor; empty: the in-cluster config (the pod's ServiceAccount)"`
	Namespace      string        `envconfig:"NAMESPACE" desc:"namespace of the gateway pods (empty: the healer pod's own)"`
	Selector       string        `envconfig:"SELECTOR" default:"app.kubernetes.io/name=wsheal-gateway" desc:"label selector of the gateway pods"`
	NodeLabel      string        `envconfig:"NODE_LABEL" desc:"pod label whose value names the node; empty: the pod's name is the node (a StatefulSet's pods)"`
	EvictFor       time.Duration `envconfig:"EVICT_FOR" default:"60s" desc:"how long an eviction refused by a PodDisruptionBudget is retried"`
	DeleteFallback bool          `envconfig:"DELETE_FALLBACK" default:"false" desc:"delete the pod when its eviction was refused for KUBE_EVICT_FOR (overrides the budget; needs delete on pods)"`
	HungGrace      time.Duration `envconfig:"HUNG_GRACE" default:"5s" desc:"termination grace of a pod whose node did not answer the drain (hung or down: it will not drain either); 0: the pod's own"`
	Wait           time.Duration `envconfig:"WAIT" default:"90s" desc:"bound on waiting for the replacement pod (a new uid) after an eviction; a StatefulSet recreates a pod only once the old one is gone, up to its termination grace"`
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
	if err := service.ValidateListen(EnvPrefix+"_LISTEN", c.Listen); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	h := c.HTTP
	h.Defaults()
	if err := h.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s_%s=%v: want %s", ErrConfig, EnvPrefix, name, v, want)
	}
	positive := map[string]time.Duration{
		"DOCKER_GRACE": c.DockerGrace, "COMMAND_TIMEOUT": c.CommandTimeout, "WEBHOOK_TIMEOUT": c.WebhookTimeout,
		"ACK_WAIT": c.AckWait, "BACKOFF_BASE": c.BackoffBase, "BACKOFF_MAX": c.BackoffMax,
		"HEALTHY_PERIOD": c.HealthyPeriod, "FLAP_WINDOW": c.FlapWindow,
		"NODE_FORGET": c.NodeForget, "VERIFY_POLL": c.VerifyPoll, "WAIT": c.Wait, "DRAIN_OVER": c.DrainOver,
		"MAX_AGE": c.MaxAge, "HEARTBEAT": c.Heartbeat, "INCIDENT_TTL": c.IncidentTTL,
	}
	for _, name := range []string{"DOCKER_GRACE", "COMMAND_TIMEOUT", "WEBHOOK_TIMEOUT", "ACK_WAIT", "BACKOFF_BASE",
		"BACKOFF_MAX", "HEALTHY_PERIOD", "FLAP_WINDOW", "NODE_FORGET", "VERIFY_POLL", "WAIT",
		"DRAIN_OVER", "MAX_AGE", "HEARTBEAT", "INCIDENT_TTL"} {
		if positive[name] <= 0 {
			return bad(name, positive[name], "a positive duration")
		}
	}
	switch {
	case c.Restart != "auto" && c.Restart != "docker" && c.Restart != "kubernetes" && c.Restart != "dev" && c.Restart != "off":
		return bad("RESTART", c.Restart, "auto, docker, kubernetes, dev or off")
	case c.Restart == "kubernetes" && (c.Kube.EvictFor < 0 || c.Kube.HungGrace < 0 || c.Kube.Wait <= 0):
		return bad("KUBE_WAIT", c.Kube.Wait, "a positive duration (and KUBE_EVICT_FOR, KUBE_HUNG_GRACE 0 or more)")
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
	case c.DemoteAfter < 0:
		return bad("DEMOTE_AFTER", c.DemoteAfter, "0 or more")
	case c.ExploreEvery < 0:
		return bad("EXPLORE_EVERY", c.ExploreEvery, "0 or more")
	case c.ExploreMin < 0:
		return bad("EXPLORE_MIN", c.ExploreMin, "0 or more")
	case c.ScaleMin < 1 || c.ScaleMin > 1000:
		return bad("SCALE_MIN", c.ScaleMin, "1..1000: the last node is never removed")
	case c.ScaleMax < c.ScaleMin || c.ScaleMax > 1000:
		return bad("SCALE_MAX", c.ScaleMax, fmt.Sprintf("SCALE_MIN (%d)..1000", c.ScaleMin))
	case c.ScaleCooldown < 0:
		return bad("SCALE_COOLDOWN", c.ScaleCooldown, "0 or more")
	case c.ScaleInCooldown < 0:
		return bad("SCALE_IN_COOLDOWN", c.ScaleInCooldown, "0 or more")
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
