package main

import "github.com/spf13/cobra"

// opsCmds are the operator commands against a running fleet.
func opsCmds() []*cobra.Command {
	return []*cobra.Command{statusCmd(), nodeCmd(), anomaliesCmd(), eventsCmd(), incidentsCmd(), reviewCmd(),
		healerCmd(), drainCmd(), undrainCmd(), reconnectCmd(), resizeCmd(), analyticsCmd(), rolloutCmd()}
}
