// Package monitor is the wsheal monitor: it turns the gateways'
// heartbeats, health snapshots and lifecycle events into a fleet view and
// into anomalies that the healer and the notifier act on.
//
// Run subscribes to every gateway event, keeps one state per node
// (healthy, degraded, suspect, down, draining, quarantined, stopped), runs
// the detectors of package detect on every sample, publishes each anomaly
// once (deterministic id, KV claim, JetStream de-duplication) and its
// resolution, and answers the NATS micro service wsheal-monitor
// (status, node, anomalies). An HTTP server serves /metrics, /healthz,
// a JSON API and whatever handlers were added with Handle (the dashboard).
//
// The HTTP server bounds every socket (WSHEAL_MONITOR_HTTP_READ_TIMEOUT,
// _HTTP_WRITE_TIMEOUT, _HTTP_IDLE_TIMEOUT: 10 s, 10 s, 60 s; event streams
// lift their own deadlines). With WSHEAL_MONITOR_METRICS_TOKEN set,
// /metrics needs it; with WSHEAL_MONITOR_DASHBOARD_TOKEN set, the
// dashboard and /api need it (Bearer, or the Basic auth password a browser
// prompts for); /healthz stays open. A handler's panic answers 500, is
// logged and counted (wsheal_monitor_http_panics_total).
package monitor

import (
	"errors"
	"fmt"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor/detect"
)

// EnvPrefix prefixes every variable of the monitor's Config.
const EnvPrefix = "WSHEAL_MONITOR"

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("monitor: config")

// Config is the monitor's configuration, read from WSHEAL_MONITOR_*.
type Config struct {
	service.NATS
	service.Log
	service.Fleet

	// Instance names this replica (default: the host name).
	Instance string `envconfig:"INSTANCE" desc:"replica name, a subject token (default: the host name)"`
	// dashboard; "off" disables the server.
	Listen       string        `envconfig:"LISTEN" default:"127.0.0.1:8090" desc:"HTTP address of /metrics, /healthz, /api and the dashboard (off: none)"`
	Tick         time.Duration `envconfig:"TICK" default:"250ms" desc:"how often liveness, panic and flapping are checked"`
	FleetEvery   time.Duration `envconfig:"FLEET_EVERY" default:"5s" desc:"how often the fleet-wide detectors (storm, imbalance) run"`
	Beat         time.Duration `envconfig:"BEAT" default:"1s" desc:"the interval of the monitor's own service heartbeat"`
	ProbeTimeout time.Duration `envconfig:"PROBE_TIMEOUT" default:"1s" desc:"bounds each of the TCP and HTTP checks of a silent node"`
	// from this monitor's clock (fleet-wide kinds, flapping), so that
	// replicas derive the same id.
	WindowBucket time.Duration `envconfig:"WINDOW_BUCKET" default:"1m" desc:"truncates the window of anomalies whose start comes from this monitor's clock (fleet-wide kinds, flapping), so that replicas derive the same id"`
	// of the fleet's connections is critical (else error).
	CriticalShare float64       `envconfig:"CRITICAL_SHARE" default:"0.25" desc:"a node_down or node_hung holding at least this share of the fleet's connections is critical (else error)"`
	History       int           `envconfig:"HISTORY" default:"50" desc:"how many state changes are kept per node"`
	ForgetAfter   time.Duration `envconfig:"FORGET_AFTER" default:"10m" desc:"drops a node that stopped cleanly this long ago"`

	// HTTP bounds every socket of the HTTP server (zero values: defaults).
	service.HTTP
	MetricsToken   string `envconfig:"METRICS_TOKEN" desc:"when set, /metrics requires Authorization: Bearer <token> (or it as the Basic auth password)"`
	DashboardToken string `envconfig:"DASHBOARD_TOKEN" desc:"when set, the dashboard and /api require Authorization: Bearer <token> or it as the Basic auth password (a browser prompts); /healthz stays open"`

	detect.Hysteresis
	detect.LivenessConfig
	detect.PanicConfig
	detect.RTTConfig
	detect.StaleConfig
	detect.SlowConfig
	detect.ErrorsConfig
	detect.SaturationConfig
	detect.StormConfig
	detect.ImbalanceConfig
	detect.FlappingConfig
	detect.CorrelationConfig
	detect.DataPlaneConfig
	detect.CapacityConfig
}

// ConfigFromEnv reads and validates the configuration.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process(EnvPrefix, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, c.Validate()
}

type check struct {
	bad  bool
	name string
	want string
}

// Validate fails fast on values that cannot work, naming the variable.
func (c Config) Validate() error {
	if err := c.NATS.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Instance != "" {
		if err := events.ValidateToken(c.Instance); err != nil {
			return fmt.Errorf("%w: %s_INSTANCE: %w", ErrConfig, EnvPrefix, err)
		}
	}
	h := c.HTTP
	h.Defaults()
	if err := h.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	checks := []check{
		{c.Listen == "", "LISTEN", "an address or off"},
		{c.Tick < time.Millisecond, "TICK", "at least 1ms"},
		{c.FleetEvery < time.Millisecond, "FLEET_EVERY", "at least 1ms"},
		{c.Beat < time.Millisecond, "BEAT", "at least 1ms"},
		{c.ProbeTimeout <= 0, "PROBE_TIMEOUT", "positive"},
		{c.WindowBucket < time.Second, "WINDOW_BUCKET", "at least 1s"},
		{c.CriticalShare <= 0 || c.CriticalShare > 1, "CRITICAL_SHARE", "in (0, 1]"},
		{c.History < 1, "HISTORY", "at least 1"},
		{c.Hysteresis.FireAfter < 1 || c.Hysteresis.ClearAfter < 1, "FIRE_AFTER/CLEAR_AFTER", "at least 1"},
		{c.SuspectMisses <= 0 || c.DownMisses <= c.SuspectMisses, "SUSPECT_MISSES/DOWN_MISSES", "0 < suspect < down"},
		{c.RecoverBeats < 1, "RECOVER_BEATS", "at least 1"},
		{c.PanicConfig.Share <= 0 || c.PanicConfig.Share >= 1 || c.PanicConfig.MinNodes < 1 || c.PanicConfig.ClearAfter < 1, "PANIC_*", "share in (0,1), min nodes and clear after >= 1"},
		{c.Alpha <= 0 || c.Alpha > 1 || c.Factor <= c.LeaveFactor || c.LeaveFactor < 1, "RTT_*", "alpha in (0,1], factor > leave factor >= 1"},
		{c.OutlierK < c.LeaveK || c.RTTConfig.MinNodes < 1, "RTT_OUTLIER_K/RTT_LEAVE_K/RTT_MIN_NODES", "outlier k >= leave k, min nodes >= 1"},
		{c.StaleConfig.Share <= c.StaleConfig.LeaveShare, "STALE_SHARE", "above STALE_LEAVE_SHARE"},
		{c.SlowConfig.Enter <= c.SlowConfig.Leave, "SLOW_ENTER", "above SLOW_LEAVE"},
		{c.Rate <= c.LeaveRate, "ERROR_RATE", "above ERROR_LEAVE_RATE"},
		{c.SaturationConfig.Enter <= c.SaturationConfig.Leave, "SATURATION_ENTER", "above SATURATION_LEAVE"},
		{c.AcceptRate <= c.LeaveAcceptRate || c.RejectRate <= c.LeaveRejectRate, "STORM_*", "enter rates above leave rates"},
		{c.Ratio <= c.LeaveRatio || c.LeaveRatio < 1, "IMBALANCE_RATIO", "above IMBALANCE_LEAVE_RATIO >= 1"},
		{c.CorrelationConfig.Share <= 0 || c.CorrelationConfig.Share >= 1 || c.CorrelationConfig.MinNodes < 1 || c.CorrelationConfig.ClearAfter < 1,
			"FLEET_SHARE/FLEET_MIN_NODES/FLEET_CLEAR_AFTER", "share in (0,1), min nodes and clear after >= 1"},
		{c.ErrorShare <= c.LeaveErrorShare || c.StoreEnter <= c.StoreLeave || c.LimitEnter <= c.LimitLeave || c.LostShare <= c.LeaveLostShare,
			"DP_*", "every enter threshold above its leave threshold"},
		{c.SaturatedEnter <= c.SaturatedLeave || c.SaturatedEnter > 1 || c.SaturatedLeave <= 0 || c.SaturatedFor < 0,
			"FLEET_SATURATED", "in (0, 1], above FLEET_SATURATED_LEAVE > 0, and FLEET_SATURATED_FOR 0 or more"},
		{c.UnderusedEnter >= c.UnderusedLeave || c.UnderusedEnter < 0 || c.UnderusedLeave > 1 || c.UnderusedFor < 0,
			"FLEET_UNDERUSED", "in [0, 1), below FLEET_UNDERUSED_LEAVE <= 1, and FLEET_UNDERUSED_FOR 0 or more"},
		{c.UnderusedFloor < 1, "FLEET_UNDERUSED_FLOOR", "1 or more"},
		{c.UnderusedLeave >= c.SaturatedLeave,
			"FLEET_UNDERUSED_LEAVE", "below FLEET_SATURATED_LEAVE (a fleet cannot be too busy and too idle at once)"},
		{c.Changes <= c.LeaveChanges || c.Window <= 0 || c.Settle < 0 || c.Settle >= c.Window, "FLAP_*", "changes above leave changes, positive window, 0 <= settle < window"},
	}
	for _, ch := range checks {
		if ch.bad {
			return fmt.Errorf("%w: %s_%s: want %s", ErrConfig, EnvPrefix, ch.name, ch.want)
		}
	}
	return nil
}
