package main

import (
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor"
)

func init() {
	serviceRegistry["monitor"] = registered{
		short:  "Run the monitor: fleet view, anomaly detection, dashboard",
		config: func() any { return new(monitor.Config) },
		run:    serve(monitor.ConfigFromEnv, func(c monitor.Config) service.Log { return c.Log }, monitor.New),
	}
}
