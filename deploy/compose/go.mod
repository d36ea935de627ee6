module github.com/wsheal/wsheal/deploy/compose

go 1.26.8

require github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000

replace github.com/wsheal/wsheal/pkg/events => ../../pkg/events
