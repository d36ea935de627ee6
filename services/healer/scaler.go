package healer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsheal/wsheal/services/healer/executor/devsup"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
	"github.com/wsheal/wsheal/services/healer/remedy"
)

// scaler adds and removes gateway nodes the way the deployment runs
// them (WSHEAL_HEALER_RESTART): Docker containers, cloned from a healthy
// replica and stopped and removed after a drain. Under wsheal dev, on
// Kubernetes, or with the executor off, a scale is unsupported: the
// healer escalates, saying what to do instead.
type scaler struct {
	mode   string
	dev    *devsup.Client
	docker *docker.Client
	grace  time.Duration
}

// Why a scale is unsupported, per executor.
const (
	devUnsupported  = "the wsheal dev supervisor runs a fixed set of gateways (--gateways): restart wsheal dev with more, or run the compose deployment"
	kubeUnsupported = "on Kubernetes the gateways' replicas belong to their StatefulSet or Deployment: scale it (kubectl scale, or a HorizontalPodAutoscaler)"
	offUnsupported  = "the executor is off (WSHEAL_HEALER_RESTART=off)"
)

// engine returns the Docker client to scale with, or why there is none.
func (s *scaler) engine(ctx context.Context) (*docker.Client, error) {
	unsupported := func(why string) error { return fmt.Errorf("scale: %w: %s", remedy.ErrUnsupported, why) }
	switch s.mode {
	case "docker":
		return s.docker, nil
	case "dev":
		return nil, unsupported(devUnsupported)
	case "kubernetes":
		return nil, unsupported(kubeUnsupported)
	case "off":
		return nil, unsupported(offUnsupported)
	}
	dev, err := s.dev.Supervises(ctx)
	if err != nil {
		return nil, err
	}
	if dev {
		return nil, unsupported(devUnsupported)
	}
	if _, err := os.Stat(s.docker.Socket()); err != nil {
		return nil, unsupported(fmt.Sprintf("no dev supervisor answers and no Docker engine at %s (WSHEAL_HEALER_DOCKER_SOCKET)", s.docker.Socket()))
	}
	return s.docker, nil
}

// Add implements remedy.Scaler.
func (s *scaler) Add(ctx context.Context, _ string, like []string, since time.Time) (string, string, error) {
	d, err := s.engine(ctx)
	if err != nil {
		return "", "", err
	}
	r, fresh, err := d.AddReplica(ctx, like, since)
	if err != nil {
		return "", "", err
	}
	how := "docker container " + r.Name + " started as a clone"
	if !fresh {
		how = "docker container " + r.Name + ", started by this attempt before"
	}
	return r.Node, how, nil
}

// Remove implements remedy.Scaler.
func (s *scaler) Remove(ctx context.Context, _ string, node string) (string, error) {
	d, err := s.engine(ctx)
	if err != nil {
		return "", err
	}
	r, found, err := d.RemoveReplica(ctx, node, s.grace)
	switch {
	case err != nil:
		return "", err
	case !found:
		return "no container runs it any more", nil
	}
	return "docker container " + r.Name + " stopped and removed", nil
}
