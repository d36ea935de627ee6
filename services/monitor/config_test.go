package monitor_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/detect"
)

// The documented defaults of package detect are the defaults of the
// environment.
func TestConfigDefaults(t *testing.T) {
	c, err := monitor.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"hysteresis", c.Hysteresis, detect.DefaultHysteresis()},
		{"liveness", c.LivenessConfig, detect.DefaultLiveness()},
		{"panic", c.PanicConfig, detect.DefaultPanic()},
		{"rtt", c.RTTConfig, detect.DefaultRTT()},
		{"stale", c.StaleConfig, detect.DefaultStale()},
		{"slow", c.SlowConfig, detect.DefaultSlow()},
		{"errors", c.ErrorsConfig, detect.DefaultErrors()},
		{"saturation", c.SaturationConfig, detect.DefaultSaturation()},
		{"storm", c.StormConfig, detect.DefaultStorm()},
		{"imbalance", c.ImbalanceConfig, detect.DefaultImbalance()},
		{"flapping", c.FlappingConfig, detect.DefaultFlapping()},
		{"correlation", c.CorrelationConfig, detect.DefaultCorrelation()},
		{"data plane", c.DataPlaneConfig, detect.DefaultDataPlane()},
		{"capacity", c.CapacityConfig, detect.DefaultCapacity()},
		{"listen", c.Listen, "127.0.0.1:8090"},
		{"tick", c.Tick, 250 * time.Millisecond},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if ch.got != ch.want {
				t.Fatalf("env default %+v, detect default %+v", ch.got, ch.want)
			}
		})
	}
}

func TestConfigRejects(t *testing.T) {
	cases := []struct {
		env, value, names string
	}{
		{"TICK", "0s", "WSHEAL_MONITOR_TICK"},
		{"DOWN_MISSES", "1", "WSHEAL_MONITOR_SUSPECT_MISSES/DOWN_MISSES"},
		{"PANIC_SHARE", "1.5", "WSHEAL_MONITOR_PANIC_*"},
		{"RTT_FACTOR", "1.2", "WSHEAL_MONITOR_RTT_*"},
		{"STALE_LEAVE_SHARE", "0.5", "WSHEAL_MONITOR_STALE_SHARE"},
		{"SATURATION_LEAVE", "0.95", "WSHEAL_MONITOR_SATURATION_ENTER"},
		{"CRITICAL_SHARE", "0", "WSHEAL_MONITOR_CRITICAL_SHARE"},
		{"INSTANCE", "a.b", "WSHEAL_MONITOR_INSTANCE"},
		{"NATS_REPLICAS", "9", "WSHEAL_MONITOR_NATS_REPLICAS"},
		{"FLAP_WINDOW", "soon", "WSHEAL_MONITOR_FLAP_WINDOW"},
		{"FLEET_SHARE", "1", "WSHEAL_MONITOR_FLEET_SHARE"},
		{"DP_STORE_LEAVE", "0.95", "WSHEAL_MONITOR_DP_*"},
		{"FLEET_SATURATED", "0.6", "WSHEAL_MONITOR_FLEET_SATURATED"},
		{"FLEET_SATURATED_FOR", "-1s", "WSHEAL_MONITOR_FLEET_SATURATED"},
		{"FLEET_UNDERUSED", "0.5", "WSHEAL_MONITOR_FLEET_UNDERUSED"},
		{"FLEET_UNDERUSED_LEAVE", "0.75", "WSHEAL_MONITOR_FLEET_UNDERUSED_LEAVE"},
		{"FLEET_UNDERUSED_FLOOR", "0", "WSHEAL_MONITOR_FLEET_UNDERUSED_FLOOR"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(monitor.EnvPrefix+"_"+c.env, c.value)
			_, err := monitor.ConfigFromEnv()
			if !errors.Is(err, monitor.ErrConfig) || !strings.Contains(err.Error(), c.names) {
				t.Fatalf("got %v, want an error naming %s", err, c.names)
			}
		})
	}
}
