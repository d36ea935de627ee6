package main

import (
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/natsflag"
)

// natsOpts are the NATS flags of every command (the nats CLI's); wsheal
// bench and chaos hand them to wsheal-tools, which has the same.
var natsOpts natsflag.Flags

func addNATSFlags(root *cobra.Command) { natsOpts.Register(root.PersistentFlags()) }

// connect opens the operator's NATS connection.
func connect() (*nats.Conn, error) { return natsOpts.Connect("wsheal-cli") }
