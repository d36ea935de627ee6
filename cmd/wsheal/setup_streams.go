package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

// setupStreamsCmd creates or updates every stream and bucket of the
// contract. It is the one step that needs the right to create streams:
// compose runs it once as the operator before the services, which then
// start with WSHEAL_<SVC>_NATS_ENSURE=check and hold no such right.
func setupStreamsCmd() *cobra.Command {
	var (
		replicas int
		wait     time.Duration
		check    bool
	)
	cmd := &cobra.Command{
		Use:     "setup-streams",
		GroupID: "run",
		Short:   "Create or update the JetStream streams and buckets (operator rights), or check them",
		Long: `setup-streams creates or updates every JetStream stream and key-value bucket
wsheal uses, as the NATS user given by --user/--creds (the operator). Run it
once before the services when they start with WSHEAL_<SVC>_NATS_ENSURE=check,
so that no service user needs the right to create, update or delete streams.
It retries until --wait ends (a cluster may still be electing leaders).
With --check it only checks that everything exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if replicas < 1 || replicas > 5 {
				return fmt.Errorf("--replicas %d: want 1..5", replicas)
			}
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			mode := events.EnsureCreate
			if check {
				mode = events.EnsureCheck
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			if err := ensureRetry(ctx, js, mode, replicas); err != nil {
				return err
			}
			verb := "created or updated"
			if check {
				verb = "present"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d streams and %d buckets %s (replicas %d)\n",
				len(events.Streams), len(events.Buckets), verb, replicas)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&replicas, "replicas", 1, "replicas of every stream and bucket (3 in the compose cluster)")
	f.DurationVar(&wait, "wait", time.Minute, "retry until this long has passed")
	f.BoolVar(&check, "check", false, "only check that every stream and bucket exists")
	return cmd
}

func ensureRetry(ctx context.Context, js jetstream.JetStream, mode string, replicas int) error {
	delay := 250 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := events.EnsureMode(actx, js, mode, events.EnsureOptions{Replicas: replicas})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("setup-streams: gave up"), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}
