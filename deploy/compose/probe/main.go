// Command probe is the container healthcheck of the compose deployment.
// A FROM-scratch image has no shell, curl or nats CLI, so compose runs
// this static binary (built by `make images` into both images):
//
//	probe http://127.0.0.1:8080/healthz   exit 0 when GET answers 2xx within 3 s
//	probe healer                          exit 0 when wsheal.ctl.healer.status answers ok within 3 s
//
// For a service (monitor, healer, notifier) it connects to NATS exactly as
// the service in the same container does, from its WSHEAL_<SVC>_NATS_*
// variables, and asks the service's status verb over request-reply.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// ErrProbe is wrapped by every failure.
var ErrProbe = errors.New("probe")

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe <http://host:port/path | monitor | healer | notifier>")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	check := probe
	if strings.HasPrefix(os.Args[1], "http://") || strings.HasPrefix(os.Args[1], "https://") {
		check = get
	}
	if err := check(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// probe asks svc's status verb with the connection settings of svc's
// own environment.
func probe(ctx context.Context, svc string) error {
	switch svc {
	case events.ServiceMonitor, events.ServiceHealer, events.ServiceNotifier:
	default:
		return fmt.Errorf("%w: unknown service %q", ErrProbe, svc)
	}
	var cfg service.NATS
	prefix := "WSHEAL_" + strings.ToUpper(svc)
	if err := envconfig.Process(prefix, &cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrProbe, err)
	}
	if err := cfg.Validate(prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrProbe, err)
	}
	nc, err := service.Connect(cfg, "wsheal-probe-"+svc, zerolog.Nop())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProbe, err)
	}
	defer nc.Close()
	if err := events.Request(ctx, nc, events.ControlSubject(svc, events.VerbStatus), nil, nil); err != nil {
		return fmt.Errorf("%w: %s status: %w", ErrProbe, svc, err)
	}
	return nil
}

// get succeeds when GET url answers 2xx.
func get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProbe, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProbe, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s", ErrProbe, url, resp.Status)
	}
	return nil
}
