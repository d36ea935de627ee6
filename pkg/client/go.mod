module github.com/wsheal/wsheal/pkg/client

go 1.26.8

require (
	github.com/lxzan/gws v1.8.9
	github.com/nats-io/nuid v1.0.1
	github.com/rs/zerolog v1.35.1
	github.com/wsheal/wsheal/pkg/events v0.0.0-00010101000000-000000000000
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.17 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/wsheal/wsheal/pkg/events => ../events
