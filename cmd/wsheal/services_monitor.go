package main

import (
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func init() {
	serviceRegistry["monitor"] = registered{
		short:  "Run the monitor: fleet view, anomaly detection, dashboard",
		config: func() any { return new(monitor.Config) },
		run:    serve(monitor.ConfigFromEnv, dashboard.NewMonitor),
	}
}
