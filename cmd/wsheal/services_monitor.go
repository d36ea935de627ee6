package main

import (
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func init() {
	serviceRegistry["monitor"] = registered{
		short:  "Run the monitor: fleet view, anomaly detection, dashboard",
		config: func() any { return new(monitor.Config) },
		run:    serve(monitor.ConfigFromEnv, func(c monitor.Config) service.Log { return c.Log }, newMonitor),
	}
}

// newMonitor is a monitor serving the dashboard.
func newMonitor(cfg monitor.Config, log zerolog.Logger) (*monitor.Service, error) {
	svc, err := monitor.New(cfg, log)
	if err != nil {
		return nil, err
	}
	dashboard.Mount(svc, log)
	return svc, nil
}
