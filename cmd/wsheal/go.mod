module github.com/wsheal/wsheal/cmd/wsheal

go 1.26.8

require (
	github.com/wsheal/wsheal/pkg/client v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/gateway v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/healer v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/monitor v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/notifier v0.0.0-00010101000000-000000000000
)

replace github.com/wsheal/wsheal/pkg/events => ../../pkg/events

replace github.com/wsheal/wsheal/pkg/client => ../../pkg/client

replace github.com/wsheal/wsheal/services/gateway => ../../services/gateway

replace github.com/wsheal/wsheal/services/monitor => ../../services/monitor

replace github.com/wsheal/wsheal/services/healer => ../../services/healer

replace github.com/wsheal/wsheal/services/notifier => ../../services/notifier
