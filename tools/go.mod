module github.com/wsheal/wsheal/tools

go 1.26.8

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/lxzan/gws v1.8.9
	github.com/nats-io/nats-server/v2 v2.15.3
	github.com/nats-io/nats.go v1.55.0
	github.com/nats-io/nuid v1.0.1
	github.com/rs/zerolog v1.35.1
	github.com/spf13/cobra v1.10.2
	github.com/wsheal/wsheal/cmd/wsheal v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/pkg/client v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/pkg/natskit v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/gateway v0.0.0-00010101000000-000000000000
	github.com/wsheal/wsheal/services/healer v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.50.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.9.0-default-no-op // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/nats-io/jwt/v2 v2.8.3 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/wsheal/wsheal/cmd/wsheal => ../cmd/wsheal

replace github.com/wsheal/wsheal/pkg/events => ../pkg/events

replace github.com/wsheal/wsheal/pkg/client => ../pkg/client

replace github.com/wsheal/wsheal/pkg/natskit => ../pkg/natskit

replace github.com/wsheal/wsheal/services/gateway => ../services/gateway

replace github.com/wsheal/wsheal/services/monitor => ../services/monitor

replace github.com/wsheal/wsheal/services/healer => ../services/healer

replace github.com/wsheal/wsheal/services/notifier => ../services/notifier
