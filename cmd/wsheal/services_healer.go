package main

import (
	"github.com/wsheal/wsheal/services/healer"
)

func init() {
	serviceRegistry["healer"] = registered{
		short:  "Run the healer: remediation policies, executors, safety limits, verification",
		config: func() any { return new(healer.Config) },
		run:    serve(healer.ConfigFromEnv, healer.New),
	}
}
