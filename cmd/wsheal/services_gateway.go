package main

import (
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway"
)

func init() {
	serviceRegistry["gateway"] = registered{
		short:  "Run a WebSocket gateway node",
		config: func() any { return new(gateway.Config) },
		run:    serve(gateway.ConfigFromEnv, func(c gateway.Config) service.Log { return c.Log }, gateway.New),
	}
}
