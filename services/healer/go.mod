module github.com/wsheal/wsheal/services/healer

go 1.26.8

require github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000

require gopkg.in/yaml.v3 v3.0.1 // indirect

replace github.com/wsheal/wsheal/pkg/events => ../../pkg/events
