package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/receiver"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// healthcheckCmd exists for FROM-scratch images, which have no shell or
// curl: compose runs `wsheal healthcheck http://127.0.0.1:8080/healthz`.
func healthcheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "healthcheck <url>",
		GroupID: "run",
		Short:   "Exit 0 if GET <url> answers 2xx within --timeout (for container healthchecks)",
		Example: `  wsheal healthcheck http://127.0.0.1:8080/readyz --timeout 2s`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), natsOpts.Timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("%s answered %s", args[0], resp.Status)
			}
			return nil
		},
	}
}

func receiverCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:     "receiver",
		GroupID: "run",
		Short:   "A webhook receiver that stands in for Slack/PagerDuty: prints and keeps what it gets",
		Long: `Accepts JSON POSTs on any path (answering 202 as PagerDuty does), prints a
line for each, and lists the last 1000 at GET /received. Point the
notifier's sinks at it to see pages in a demo.`,
		Example: `  wsheal receiver --listen 127.0.0.1:9095
  curl -s localhost:9095/received | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := service.HTTP{}.Server(receiver.New(cmd.OutOrStdout(), 1000), 5*time.Second)
			srv.Addr = listen
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			fmt.Fprintf(cmd.ErrOrStderr(), "receiver listening on %s\n", listen)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9095", "address to listen on")
	return cmd
}
