package chaos

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// crash kills a gateway with SIGKILL.
func crash(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	p, err := e.Signal(ctx, v, syscall.SIGKILL)
	if err != nil {
		return err
	}
	e.fault(v, fmt.Sprintf("kill -9 %s (pid %d)", v, p.PID))
	e.expectHealed(ctx, v, healOpts{actions: []string{events.ActionRestart}, oldPID: p.PID})
	return nil
}

// hang stops a gateway with SIGSTOP; it is continued (if the healer has
// not replaced it) when the scenario ends.
func hang(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	p, err := e.Signal(ctx, v, syscall.SIGSTOP)
	if err != nil {
		return err
	}
	e.onCleanup(func(context.Context) { _ = syscall.Kill(p.PID, syscall.SIGCONT) })
	e.fault(v, fmt.Sprintf("kill -STOP %s (pid %d)", v, p.PID))
	e.expectHealed(ctx, v, healOpts{kinds: []string{events.KindNodeHung, events.KindNodeDown},
		actions: []string{events.ActionRestart}, oldPID: p.PID})
	return nil
}

// listenAddr is host:port of a gateway's public WebSocket URL.
func listenAddr(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: gateway URL %q", ErrStack, wsURL)
	}
	return u.Host, nil
}

// hopeless kills a gateway and holds its port, so that every restart
// fails to bind: the healer must try at most its retry cap, escalate, and
// the notifier must page; no endless loop.
func hopeless(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	g, _ := e.Obs.Gateway(v)
	addr, err := listenAddr(g.URL)
	if err != nil {
		return err
	}
	p, err := e.Signal(ctx, v, syscall.SIGKILL)
	if err != nil {
		return err
	}
	var ln net.Listener
	waitFor(ctx, 3*time.Second, func() bool { ln, err = net.Listen("tcp", addr); return err == nil })
	if ln == nil {
		return fmt.Errorf("%w: could not hold %s: %w", ErrStack, addr, err)
	}
	release := func() { _ = ln.Close() }
	e.onCleanup(func(context.Context) { release() })
	e.fault(v, fmt.Sprintf("kill -9 %s (pid %d) and hold its port %s", v, p.PID, addr))
	a, found := e.detected(ctx, v, 45*time.Second)
	e.logf("waiting for the healer to give up and escalate (each restart waits for its verify deadline)")
	esc, escalated := e.awaitEvent(ctx, 4*time.Minute, func(s Seen) bool {
		r := payload[*events.Remediation](s)
		return r != nil && r.Target == v && (r.Escalate || r.Action == events.ActionEscalate)
	})
	attempts := len(e.Obs.Since(e.Res.FaultAt, remediation(v, events.PhaseStarted, events.ActionRestart)))
	e.Res.check("escalated", escalated, "after %d restart attempts", attempts)
	if escalated {
		e.Res.Marks = append(e.Res.Marks, Mark{At: evTime(esc), Kind: "note", Label: "escalated"})
		// No loop: no restart starts in the 15 s after the escalation.
		waitFor(ctx, 15*time.Second, func() bool { return false })
		more := len(e.Obs.Since(esc.At, remediation(v, events.PhaseStarted, events.ActionRestart)))
		e.Res.check("no restart loop", more == 0 && attempts <= 5, "%d restart attempts before escalating, %d after", attempts, more)
	}
	anomalyID := ""
	if found {
		anomalyID = a.ID
	}
	id, ok := e.incidentFor(ctx, anomalyID, v, 30*time.Second)
	e.Res.check("incident opened", ok, "%s", id)
	if ok {
		e.Res.Paged = waitFor(ctx, 30*time.Second, func() bool { return e.paged(ctx, id) })
		e.Res.check("a human was paged", e.Res.Paged, "page on incident %s", id)
	}
	// Give the port back and bring the node back by hand, as the person
	// paged would; the incident must then resolve with its review.
	release()
	if _, err := e.Restart(ctx, v); err != nil {
		e.Res.check("operator restart", false, "%v", err)
	}
	e.Res.check("node back", e.nodeBack(ctx, v, p.PID, 30*time.Second), "%s beating after the operator's restart", v)
	e.clientsBack(ctx, 60*time.Second)
	if ok && e.reviewed(ctx, id, 150*time.Second) {
		// The restarts that could not work are wasted time; the review
		// must say which setting decides how long the healer goes on
		// trying them.
		line := ""
		for _, l := range e.Res.Review.Tune {
			if strings.Contains(l, "WSHEAL_") && strings.Contains(l, events.ActionRestart) {
				line = l
				break
			}
		}
		e.Res.check("review says what to tune", line != "", "%s", tuneText(line, e.Res.Review.Tune))
	}
	return nil
}

// tuneText is the detail of the "review says what to tune" check.
func tuneText(line string, all []string) string {
	if line != "" {
		return line
	}
	return fmt.Sprintf("no line names a setting for the failed restarts among %q", all)
}

// flapping kills the same gateway each time it comes back, until the
// healer quarantines it instead of healing it forever.
func flapping(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	quarantined := func(s Seen) bool {
		r := payload[*events.Remediation](s)
		if r != nil && r.Target == v && (r.Action == events.ActionQuarantine || r.Reason == events.SkipFlapping) {
			return true
		}
		a := payload[*events.Anomaly](s)
		return a != nil && a.Kind == events.KindFlapping && a.Target == v && a.State == events.AnomalyOpen
	}
	kills := 0
	for kills < 8 && ctx.Err() == nil {
		if _, seen := e.Obs.First(e.Res.Start, quarantined); seen {
			break
		}
		p, err := e.Signal(ctx, v, syscall.SIGKILL)
		if err != nil {
			break
		}
		killAt := time.Now()
		kills++
		if kills == 1 {
			e.fault(v, fmt.Sprintf("kill -9 %s (pid %d), again each time it comes back", v, p.PID))
			e.detected(ctx, v, 45*time.Second)
		} else {
			e.logf("kill -9 %s again (pid %d, kill %d)", v, p.PID, kills)
		}
		// Kill it again once it is back and the monitor has seen it
		// healthy (its node_down resolved): a node that keeps dying after
		// each heal, not one killed inside the healer's verify window.
		back := time.Time{}
		waitFor(ctx, 120*time.Second, func() bool {
			if _, seen := e.Obs.First(e.Res.Start, quarantined); seen {
				return true
			}
			g, ok := e.Obs.Gateway(v)
			if !ok || !g.Fresh(time.Now()) || g.PID == p.PID {
				return false
			}
			if back.IsZero() {
				back = time.Now()
			}
			// The anomaly this kill raised, then its resolution.
			opened, found := e.Obs.First(killAt, openAnomaly(v, events.KindNodeDown, events.KindNodeHung))
			resolved := false
			if found {
				id := payload[*events.Anomaly](opened).ID
				_, resolved = e.Obs.First(killAt, func(s Seen) bool {
					a := payload[*events.Anomaly](s)
					return a != nil && a.ID == id && a.State == events.AnomalyResolved
				})
			}
			return resolved || time.Since(back) > 20*time.Second
		})
	}
	q, seen := e.awaitEvent(ctx, 30*time.Second, quarantined)
	e.Res.check("quarantined, not healed forever", seen, "after %d kills", kills)
	if seen {
		e.Res.RemediateMS = e.Res.since(evTime(q))
		e.Res.Marks = append(e.Res.Marks, Mark{At: evTime(q), Kind: "remediate", Label: "quarantine " + v})
	}
	id, _ := e.incidentFor(ctx, "", v, 10*time.Second)
	escalated := waitFor(ctx, 60*time.Second, func() bool {
		_, esc := e.Obs.First(e.Res.FaultAt, func(s Seen) bool {
			r := payload[*events.Remediation](s)
			return r != nil && r.Target == v && (r.Escalate || r.Action == events.ActionEscalate)
		})
		e.Res.Paged = id != "" && e.paged(ctx, id)
		return esc || e.Res.Paged
	})
	e.Res.check("escalated", escalated, "the healer escalated %s or incident %s paged (paged: %v)", v, dash(id), e.Res.Paged)
	// The operator lifts the quarantine; the restore step undrains and
	// restarts what is needed.
	if err := e.HandsOff(ctx, v, false, "chaos: flapping scenario over"); err != nil {
		e.Res.check("quarantine cleared", false, "%v", err)
	}
	if _, err := e.Process(ctx, v); err == nil {
		_ = e.rn.revive(ctx, v)
		_ = e.Undrain(ctx, v)
	}
	e.clientsBack(ctx, 60*time.Second)
	return nil
}
