package main

import (
	"github.com/wsheal/wsheal/services/notifier"
)

func init() {
	serviceRegistry["notifier"] = registered{
		short:  "Run the notifier: incidents, escalation, sinks, post-incident reviews",
		config: func() any { return new(notifier.Config) },
		run:    serve(notifier.ConfigFromEnv, notifier.New),
	}
}
