package main

import (
	"github.com/wsheal/wsheal/services/gateway"
)

func init() {
	serviceRegistry["gateway"] = registered{
		short:  "Run a WebSocket gateway node",
		config: func() any { return new(gateway.Config) },
		run:    serve(gateway.ConfigFromEnv, gateway.New),
	}
}
