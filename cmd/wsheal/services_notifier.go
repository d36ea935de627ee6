package main

import (
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/notifier"
)

func init() {
	serviceRegistry["notifier"] = registered{
		short:  "Run the notifier: incidents, escalation, sinks, post-incident reviews",
		config: func() any { return new(notifier.Config) },
		run:    serve(notifier.ConfigFromEnv, func(c notifier.Config) service.Log { return c.Log }, notifier.New),
	}
}
