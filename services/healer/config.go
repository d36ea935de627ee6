package healer

import (
	"errors"
	"fmt"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/remedy"
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
	Restart          string        `envconfig:"RESTART" default:"auto" desc:"restart executor: docker (Engine API), kubernetes (drain, then evict the node's pod; KUBE_* settings), dev (the wsheal dev supervisor), auto (the dev supervisor if one answers, else Docker) or off"`
	DockerSocket     string        `envconfig:"DOCKER_SOCKET" default:"/var/run/docker.sock" desc:"Docker Engine API socket of the restart executor"`
	DockerLabel      string        `envconfig:"DOCKER_LABEL" default:"io.wsheal.node" desc:"container label whose value names the node"`
	DockerGrace      time.Duration `envconfig:"DOCKER_GRACE" default:"10s" desc:"seconds Docker waits for a container to stop before killing it"`
	Kube             KubeConfig
	CommandTimeout   time.Duration `envconfig:"COMMAND_TIMEOUT" default:"5s" desc:"bound on one gateway command request"`
	WebhookTimeout   time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"10s" desc:"bound on one runbook webhook call"`
	NodeForget       time.Duration `envconfig:"NODE_FORGET" default:"10m" desc:"a node silent this long leaves the healer's fleet view"`
	Heartbeat        time.Duration `envconfig:"HEARTBEAT" default:"1s" desc:"interval of the healer's service heartbeat"`

	// The engine's own config: DRY_RUN, the consumer (DURABLE, ACK_WAIT,
	// MAX_IN_FLIGHT, REPLAY), the brakes (BACKOFF_*, HEALTHY_PERIOD,
	// BUDGET_*, BLAST_SHARE, PANIC_SHARE, RETRY_CAP, FLAP_*), its timings
	// and the gates' (DEMOTE_AFTER, EXPLORE_*, SCALE_*). Its clock (Now)
	// is the service's (SetClock).
	remedy.Config
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
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DOCKER_GRACE", c.DockerGrace}, {"COMMAND_TIMEOUT", c.CommandTimeout}, {"WEBHOOK_TIMEOUT", c.WebhookTimeout},
		{"NODE_FORGET", c.NodeForget}, {"HEARTBEAT", c.Heartbeat}} {
		if d.v <= 0 {
			return bad(d.name, d.v, "a positive duration")
		}
	}
	switch {
	case c.Restart != "auto" && c.Restart != "docker" && c.Restart != "kubernetes" && c.Restart != "dev" && c.Restart != "off":
		return bad("RESTART", c.Restart, "auto, docker, kubernetes, dev or off")
	case c.Restart == "kubernetes" && (c.Kube.EvictFor < 0 || c.Kube.HungGrace < 0 || c.Kube.Wait <= 0):
		return bad("KUBE_WAIT", c.Kube.Wait, "a positive duration (and KUBE_EVICT_FOR, KUBE_HUNG_GRACE 0 or more)")
	case c.DockerLabel == "":
		return bad("DOCKER_LABEL", c.DockerLabel, "a label key")
	}
	if err := c.Config.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if _, err := policy.Load(c.Policies); err != nil {
		return fmt.Errorf("%w: %s_POLICIES: %w", ErrConfig, EnvPrefix, err)
	}
	return nil
}
