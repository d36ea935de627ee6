module github.com/wsheal/wsheal/deploy/compose

go 1.26.8

require (
	github.com/kelseyhightower/envconfig v1.4.0
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.55.0
	github.com/rs/zerolog v1.35.1
	github.com/wsheal/wsheal/pkg/client v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/lxzan/gws v1.8.9 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/wsheal/wsheal/pkg/natskit v0.0.0-00010101000000-000000000000
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/wsheal/wsheal/pkg/events => ../../pkg/events

replace github.com/wsheal/wsheal/pkg/client => ../../pkg/client

replace github.com/wsheal/wsheal/services/gateway => ../../services/gateway

replace github.com/wsheal/wsheal/pkg/natskit => ../../pkg/natskit
