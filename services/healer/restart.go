package healer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/executor/devsup"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
)

// ErrRestartOff is returned when restarts are turned off.
var ErrRestartOff = errors.New("healer: restarts are off (WSHEAL_HEALER_RESTART=off)")

// restarter picks the way to restart a node: the dev supervisor under
// `wsheal dev`, the Docker engine in a compose deployment.
type restarter struct {
	mode   string
	dev    *devsup.Client
	docker *docker.Client
	grace  time.Duration
}

// Restart restarts node's process. In auto mode the dev supervisor is
// asked first and the Docker engine used when no supervisor answers.
func (r *restarter) Restart(ctx context.Context, id, node string, since time.Time) (string, error) {
	switch r.mode {
	case "off":
		return "", ErrRestartOff
	case "dev":
		return r.viaDev(ctx, id, node)
	case "docker":
		return r.viaDocker(ctx, node, since)
	}
	how, err := r.viaDev(ctx, id, node)
	if err == nil || !errors.Is(err, events.ErrNoResponders) {
		return how, err
	}
	if _, statErr := os.Stat(r.docker.Socket()); statErr != nil {
		return "", fmt.Errorf("no dev supervisor answers and no Docker engine at %s: %w", r.docker.Socket(), err)
	}
	return r.viaDocker(ctx, node, since)
}

func (r *restarter) viaDev(ctx context.Context, id, node string) (string, error) {
	p, err := r.dev.Restart(ctx, id, node)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("dev supervisor, pid %d", p.PID), nil
}

func (r *restarter) viaDocker(ctx context.Context, node string, since time.Time) (string, error) {
	c, err := r.docker.RestartNode(ctx, node, since, r.grace)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("docker container %s started %s", c.Name, c.Started.Format(time.RFC3339Nano)), nil
}
