// Package rollout replaces every gateway container of a deployment with
// one made from a new image, one at a time, without a storm and without
// losing a client's messages: a replacement is started beside the old
// node and verified healthy first, the healer is told to keep its hands
// off the old node, the old node drains its clients to the replacement
// at a pace, stops cleanly (no anomaly, no incident) and is removed, and
// the next step waits until the fleet is healthy and balanced again.
//
// It drives the Docker Engine (services/healer/executor/docker: the
// replicas are the containers that carry the node label) and the fleet
// over NATS as the operator (the monitor's status, the gateway's drain,
// the healer's hands-off), so it works the same whether the gateways were
// started by compose's --scale or by hand.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
)

// Config is a rollout's settings.
type Config struct {
	Docker *docker.Client
	NC     *nats.Conn
	Out    io.Writer // progress lines

	Image     string        // image reference of the replacements; empty: each replica's own reference, which names the newest image of its tag
	Force     bool          // replace replicas that already run that image too
	DrainOver time.Duration // spread of each old node's reconnect hints
	Ready     time.Duration // bound on a replacement becoming healthy, and on a drain
	Settle    time.Duration // bound on the fleet being healthy and balanced after a step
	Balance   float64       // most connections on one node / the mean, once settled
	Grace     time.Duration // stop grace of an old container (it drains what is left)
	Request   time.Duration // bound on one NATS request
	By        string        // who asked, for the healer's hands-off record
}

// Step is one replica replaced.
type Step struct {
	Old, New    string        // node ids
	Connections int           // the old node's clients when its drain began
	Took        time.Duration // from starting the replacement to removing the old one
}

// Report is what a rollout did.
type Report struct {
	Steps          []Step
	Skipped        []string // nodes already on the image
	Took           time.Duration
	PeakAcceptRate float64 // the highest accept rate any node reported during the rollout, upgrades/s
	PeakNode       string
	Incidents      int // incidents opened during the rollout
}

// ErrRollout is wrapped by every failure of a rollout; the replica being
// replaced when it failed keeps running.
var ErrRollout = errors.New("rollout")

// Run replaces the replicas one at a time.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	start := time.Now()
	w := newWatch(cfg.NC)
	if err := w.start(); err != nil {
		return rep, fmt.Errorf("%w: %w", ErrRollout, err)
	}
	defer func() {
		w.stop()
		rep.Took = time.Since(start)
		rep.PeakAcceptRate, rep.PeakNode, rep.Incidents = w.results()
	}()
	replicas, err := cfg.Docker.Replicas(ctx)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrRollout, err)
	}
	if len(replicas) == 0 {
		return rep, fmt.Errorf("%w: no running container carries the node label: nothing to roll", ErrRollout)
	}
	var todo []docker.Replica
	for _, r := range replicas {
		want, err := cfg.imageID(ctx, r)
		if err != nil {
			return rep, fmt.Errorf("%w: image of %s: %w", ErrRollout, r.Node, err)
		}
		if r.ImageID == want && !cfg.Force {
			rep.Skipped = append(rep.Skipped, r.Node)
			continue
		}
		todo = append(todo, r)
	}
	fmt.Fprintf(cfg.Out, "rollout: %d of %d gateways to replace (%d already on the image)\n", len(todo), len(replicas), len(rep.Skipped))
	for i, old := range todo {
		fmt.Fprintf(cfg.Out, "[%d/%d] %s (%s)\n", i+1, len(todo), old.Node, old.Name)
		step, err := cfg.replace(ctx, old, w)
		if err != nil {
			return rep, fmt.Errorf("%w: %s: %w", ErrRollout, old.Node, err)
		}
		rep.Steps = append(rep.Steps, step)
		fmt.Fprintf(cfg.Out, "  %s replaced by %s in %s (%d clients moved)\n", step.Old, step.New, step.Took.Round(100*time.Millisecond), step.Connections)
	}
	return rep, nil
}

// imageID is the image a replica should run.
func (cfg Config) imageID(ctx context.Context, r docker.Replica) (string, error) {
	ref := cfg.Image
	if ref == "" {
		ref = r.Image
	}
	return cfg.Docker.ImageID(ctx, ref)
}

// replace runs one step: start the replacement, wait until it is healthy,
// hands off the old node, drain it to the replacement, stop and remove
// it, and wait until the fleet settles.
func (cfg Config) replace(ctx context.Context, old docker.Replica, w *watch) (Step, error) {
	began := time.Now()
	// The bound a step must settle within: the configured one, or the
	// spread the fleet already had before the step, if wider (a rollout
	// keeps a fleet's balance; it does not wait for a better one).
	bound := cfg.Balance
	if fs, err := call(ctx, cfg, events.CtlMonitorStatus, "", events.FleetStatusRequest{}); err == nil {
		if _, spread := settled(fs, "", 0); spread*1.1 > bound {
			bound = spread * 1.1
		}
	}
	all, err := cfg.Docker.Replicas(ctx)
	if err != nil {
		return Step{}, err
	}
	repl, err := cfg.Docker.Clone(ctx, old, cfg.Image, all)
	if err != nil {
		return Step{}, fmt.Errorf("start a replacement: %w", err)
	}
	fmt.Fprintf(cfg.Out, "  started %s (%s)\n", repl.Node, repl.Name)
	if err := cfg.until(ctx, cfg.Ready, repl.Node+" healthy", func(fs events.FleetStatus) bool {
		return nodeState(fs, repl.Node) == events.NodeHealthy
	}); err != nil {
		// The old node keeps serving; the failed replacement goes.
		_ = cfg.Docker.Stop(context.WithoutCancel(ctx), repl.ID, cfg.Grace)
		_ = cfg.Docker.Remove(context.WithoutCancel(ctx), repl.ID)
		return Step{}, fmt.Errorf("the replacement never became healthy (removed it; %s keeps serving): %w", old.Node, err)
	}
	fmt.Fprintf(cfg.Out, "  %s healthy\n", repl.Node)
	if err := cfg.handsOff(ctx, old.Node, true, "rollout: replaced by "+repl.Node); err != nil {
		return Step{}, err
	}
	defer func() { _ = cfg.handsOff(context.WithoutCancel(ctx), old.Node, false, "") }()
	drain := events.DrainCommand{ID: "rollout-" + nuid.Next(), OverMS: cfg.DrainOver.Milliseconds(), Target: repl.Node, Reason: "rollout"}
	dr, err := call(ctx, cfg, events.CtlGatewayDrain, old.Node, drain)
	if err != nil {
		return Step{}, fmt.Errorf("drain: %w", err)
	}
	fmt.Fprintf(cfg.Out, "  draining %s: %d clients to %s over %s\n", old.Node, dr.Connections, repl.Node, cfg.DrainOver)
	if err := cfg.until(ctx, cfg.DrainOver+cfg.Ready, old.Node+" drained", func(fs events.FleetStatus) bool {
		return nodeConnections(fs, old.Node) == 0
	}); err != nil {
		return Step{}, err
	}
	if err := cfg.Docker.Stop(ctx, old.ID, cfg.Grace); err != nil {
		return Step{}, fmt.Errorf("stop: %w", err)
	}
	if err := cfg.Docker.Remove(ctx, old.ID); err != nil {
		return Step{}, fmt.Errorf("remove: %w", err)
	}
	fmt.Fprintf(cfg.Out, "  %s stopped and removed\n", old.Node)
	var spread float64
	err = cfg.until(ctx, cfg.Settle, "the fleet healthy and balanced", func(fs events.FleetStatus) bool {
		ok, s := settled(fs, old.Node, bound)
		spread = s
		return ok
	})
	if err != nil {
		return Step{}, fmt.Errorf("%w (most loaded node at %.2fx the mean, bound %.2fx)", err, spread, bound)
	}
	return Step{Old: old.Node, New: repl.Node, Connections: dr.Connections, Took: time.Since(began)}, nil
}

// settled reports whether every node but gone is healthy, and the most
// loaded holds at most balance times the mean (fleets of under 8 clients
// a node are balanced whatever their spread).
func settled(fs events.FleetStatus, gone string, balance float64) (bool, float64) {
	var nodes, total, most int
	for _, n := range fs.Nodes {
		if n.Node == gone || n.State == events.NodeStopped {
			continue
		}
		if n.State != events.NodeHealthy {
			return false, 0
		}
		nodes++
		total += n.Connections
		most = max(most, n.Connections)
	}
	if nodes == 0 {
		return false, 0
	}
	mean := float64(total) / float64(nodes)
	if mean < 8 {
		return true, 0
	}
	spread := float64(most) / mean
	return spread <= balance, spread
}

func nodeState(fs events.FleetStatus, node string) string {
	for _, n := range fs.Nodes {
		if n.Node == node {
			return n.State
		}
	}
	return ""
}

func nodeConnections(fs events.FleetStatus, node string) int {
	for _, n := range fs.Nodes {
		if n.Node == node {
			if n.State == events.NodeStopped {
				return 0
			}
			return n.Connections
		}
	}
	return 0
}

// until asks the monitor for the fleet until ok holds, for up to bound.
func (cfg Config) until(ctx context.Context, bound time.Duration, what string, ok func(events.FleetStatus) bool) error {
	deadline := time.Now().Add(bound)
	for {
		fs, err := call(ctx, cfg, events.CtlMonitorStatus, "", events.FleetStatusRequest{})
		if err == nil && ok(fs) {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %s (last monitor answer: %w)", what, bound, err)
			}
			return fmt.Errorf("%s: not within %s", what, bound)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (cfg Config) handsOff(ctx context.Context, node string, on bool, reason string) error {
	c := events.HandsOffCommand{ID: "rollout-" + nuid.Next(), Node: node, On: &on, Reason: reason, By: cfg.By}
	if _, err := call(ctx, cfg, events.CtlHealerHandsOff, "", c); err != nil {
		return fmt.Errorf("healer hands-off %s: %w", node, err)
	}
	return nil
}

// call asks ep, on node when it is a gateway endpoint, under cfg.Request.
func call[Req, Rep any](ctx context.Context, cfg Config, ep events.Endpoint[Req, Rep], node string, req Req) (Rep, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Request)
	defer cancel()
	if ep.PerNode() {
		return ep.CallNode(ctx, cfg.NC, node, req)
	}
	return ep.Call(ctx, cfg.NC, req)
}

// watch follows the gateways' health snapshots (their accept rates) and
// the incidents opened while the rollout runs.
type watch struct {
	nc   *nats.Conn
	subs []*nats.Subscription

	mu        sync.Mutex
	peak      float64
	peakNode  string
	incidents []string
}

func newWatch(nc *nats.Conn) *watch { return &watch{nc: nc} }

func (w *watch) start() error {
	health, err := w.nc.Subscribe(events.HealthAll, func(m *nats.Msg) {
		e, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if h, ok := events.As[*events.Health](e); ok {
			w.mu.Lock()
			if h.AcceptRate > w.peak {
				w.peak, w.peakNode = h.AcceptRate, h.Node
			}
			w.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	w.subs = append(w.subs, health)
	inc, err := w.nc.Subscribe(events.IncidentsAll, func(m *nats.Msg) {
		e, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if p, ok := events.As[*events.Incident](e); ok {
			w.mu.Lock()
			if !slices.Contains(w.incidents, p.ID) {
				w.incidents = append(w.incidents, p.ID)
			}
			w.mu.Unlock()
		}
	})
	if err != nil {
		w.stop()
		return err
	}
	w.subs = append(w.subs, inc)
	return w.nc.Flush()
}

func (w *watch) stop() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
}

func (w *watch) results() (float64, string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.peakNode, len(w.incidents)
}
