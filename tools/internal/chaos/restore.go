package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// restore brings the stack back to healthy: every gateway running and
// beating, none stopped, drained, held or quarantined, every control-plane
// service beating, the monitor seeing a healthy fleet. Each step is
// bounded; what it had to fix is noted in r when after is set.
func (rn *Runner) restore(ctx context.Context, r *Result, after bool) error {
	st := rn.st
	var fixed []string
	if sw, err := st.HealerStatus(ctx); err == nil {
		held := append([]string{}, sw.Quarantined...)
		for _, h := range sw.HandsOff {
			held = append(held, h.Node)
		}
		slices.Sort(held)
		for _, n := range slices.Compact(held) {
			if err := st.HandsOff(ctx, n, false, "chaos restore"); err == nil {
				fixed = append(fixed, "cleared hands-off/quarantine of "+n)
			}
		}
	}
	for _, name := range st.GatewayNames(ctx) {
		if what := rn.revive(ctx, name); what != "" {
			fixed = append(fixed, what)
		}
	}
	if ps, err := st.Processes(ctx); err == nil {
		for _, p := range ps {
			if !p.Running && p.Service != events.ServiceGateway && p.Service != "demo" {
				if _, err := st.Restart(ctx, p.Name); err == nil {
					fixed = append(fixed, "restarted "+p.Name)
				}
			}
		}
	}
	names := st.GatewayNames(ctx)
	healthy := waitFor(ctx, 60*time.Second, func() bool {
		now := time.Now()
		for _, n := range names {
			g, ok := st.Obs.Gateway(n)
			if !ok || !g.Fresh(now) {
				return false
			}
			if g.Draining {
				_ = st.Undrain(ctx, n)
				return false
			}
		}
		return servicesBeating(st.Obs.Services(), now)
	})
	if after && len(fixed) > 0 {
		r.note("restore: %s", strings.Join(fixed, "; "))
	}
	if !healthy {
		return fmt.Errorf("%w: gateways or services not beating after 60s (%s)", ErrStack, rn.fleetLine())
	}
	if !waitFor(ctx, 15*time.Second, func() bool { return rn.fleetHealthy(ctx) }) && after {
		r.note("the monitor did not see every node healthy within 15s of the restore: %s", rn.fleetLine())
	}
	// The next scenario is judged by the fleet-level anomalies it opens:
	// one left open by this one (fleet_degraded clears FLEET_CLEAR_AFTER
	// rounds after the last shared sample) would hide the next one's.
	if !waitFor(ctx, 60*time.Second, func() bool { return len(rn.openFleetAnomalies()) == 0 }) && after {
		r.note("fleet-level anomalies still open 60s after the restore: %v", rn.openFleetAnomalies())
	}
	if after {
		r.mark("restore", "stack healthy again")
	}
	return nil
}

// revive continues a stopped gateway and restarts a dead one; it says
// what it did ("" nothing).
func (rn *Runner) revive(ctx context.Context, name string) string {
	st := rn.st
	p, err := st.Process(ctx, name)
	if err != nil {
		return ""
	}
	if p.Running {
		_ = syscall.Kill(p.PID, syscall.SIGCONT) // harmless unless it was stopped
		g, ok := st.Obs.Gateway(name)
		if ok && g.Fresh(time.Now()) {
			return ""
		}
		if waitFor(ctx, 5*time.Second, func() bool { g, ok := st.Obs.Gateway(name); return ok && g.Fresh(time.Now()) }) {
			return ""
		}
	}
	if _, err := st.Restart(ctx, name); err != nil {
		return "restart of " + name + " failed: " + err.Error()
	}
	return "restarted " + name
}

// servicesBeating reports whether every control-plane service that ever
// beat has an instance beating now.
func servicesBeating(beats map[string]time.Time, now time.Time) bool {
	alive := map[string]bool{}
	for k, t := range beats {
		svc, _, _ := strings.Cut(k, "/")
		alive[svc] = alive[svc] || now.Sub(t) < 3*time.Second
	}
	for _, ok := range alive {
		if !ok {
			return false
		}
	}
	return true
}

// fleetHealthy asks the monitor whether every node is healthy.
func (rn *Runner) fleetHealthy(ctx context.Context) bool {
	f, err := rn.st.Fleet(ctx)
	if err != nil || len(f.Nodes) == 0 {
		return false
	}
	for _, n := range f.Nodes {
		if n.State != events.NodeHealthy {
			return false
		}
	}
	return true
}

// openFleetAnomalies lists the kinds of the fleet-level anomalies seen
// opened and not yet resolved.
func (rn *Runner) openFleetAnomalies() []string {
	open := map[string]string{}
	for _, s := range rn.st.Obs.Since(time.Time{}, func(s Seen) bool {
		a := payload[*events.Anomaly](s)
		return a != nil && a.Target == events.FleetTarget
	}) {
		a := payload[*events.Anomaly](s)
		if a.State == events.AnomalyResolved {
			delete(open, a.ID)
		} else {
			open[a.ID] = a.Kind
		}
	}
	var kinds []string
	for _, k := range open {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

func (rn *Runner) fleetLine() string {
	var parts []string
	now := time.Now()
	for _, g := range rn.st.Obs.Gateways() {
		state := "beating"
		if !g.Fresh(now) {
			state = "silent"
		} else if g.Draining {
			state = "draining"
		}
		parts = append(parts, fmt.Sprintf("%s %s %d conns", g.Node, state, g.Connections))
	}
	if f, err := rn.st.Fleet(context.Background()); err == nil {
		for _, n := range f.Nodes {
			parts = append(parts, fmt.Sprintf("monitor: %s %s", n.Node, n.State))
		}
	}
	return strings.Join(parts, ", ")
}
