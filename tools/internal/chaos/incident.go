package chaos

import (
	"context"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// pageActions are the notification actions that reach a human.
var pageActions = []string{"trigger", "escalate", "repeat"}

// incidentFor waits for the incident that took in the anomaly (or, with
// no anomaly id, any incident on node) after the fault.
func (e *Env) incidentFor(ctx context.Context, anomalyID, node string, timeout time.Duration) (string, bool) {
	s, found := e.awaitEvent(ctx, timeout, func(s Seen) bool {
		inc := payload[*events.Incident](s)
		if inc == nil {
			return false
		}
		if anomalyID != "" {
			return contains(inc.Anomalies, anomalyID)
		}
		return contains(inc.Nodes, node)
	})
	if !found {
		return "", false
	}
	id := payload[*events.Incident](s).ID
	e.Res.Incident = id
	return id, true
}

// paged reports whether a human was paged for the incident: the
// incident says so, or a page went out to a sink.
func (e *Env) paged(ctx context.Context, id string) bool {
	if inc, err := e.Incident(ctx, id); err == nil && inc.Paged {
		return true
	}
	pages := e.Obs.Since(e.Res.FaultAt, func(s Seen) bool {
		n := payload[*events.Notification](s)
		return n != nil && n.IncidentID == id && n.Status == "sent" && contains(pageActions, n.Action)
	})
	return len(pages) > 0
}

// reviewed waits (asking the notifier's review verb) for the review of
// an incident and books it.
func (e *Env) reviewed(ctx context.Context, id string, timeout time.Duration) bool {
	var rv events.Review
	found := waitFor(ctx, timeout, func() bool {
		if _, seen := e.Obs.First(e.Res.FaultAt, func(s Seen) bool {
			r := payload[*events.Review](s)
			return r != nil && r.IncidentID == id
		}); !seen {
			return false
		}
		var err error
		rv, err = e.Stack.Review(ctx, id)
		return err == nil
	})
	if found {
		e.Res.Review = &ReviewSummary{MTTDMS: rv.MTTDMS, MTTRMS: rv.MTTRMS, AutoHealed: rv.AutoHealed,
			Paged: rv.Paged, Actions: len(rv.Actions), Summary: rv.Summary, Tune: rv.Tune}
	}
	return e.Res.check("review written", found, "review of %s: %s", id, reviewLine(rv, found))
}

func reviewLine(rv events.Review, found bool) string {
	if !found {
		return "not written in time"
	}
	return "MTTD " + (time.Duration(rv.MTTDMS) * time.Millisecond).String() + ", MTTR " +
		(time.Duration(rv.MTTRMS) * time.Millisecond).String()
}

// healOpts says what a healed fault must show.
type healOpts struct {
	kinds      []string // anomaly kinds that count as detection (any if empty)
	actions    []string // healer actions that count as remediation
	oldPID     int      // the victim's process before the fault (0: do not wait for a new one)
	wantPaged  bool
	detectWait time.Duration
}

// expectHealed checks the whole loop on victim after a fault: detected,
// remediated, node back, every client back and resumed, an incident
// resolved with its review, and paging as wanted.
func (e *Env) expectHealed(ctx context.Context, victim string, o healOpts) {
	if o.detectWait == 0 {
		o.detectWait = 45 * time.Second
	}
	a, found := e.detected(ctx, victim, o.detectWait, o.kinds...)
	e.remediated(ctx, victim, 90*time.Second, o.actions...)
	e.Res.check("node back", e.nodeBack(ctx, victim, o.oldPID, 30*time.Second), "%s beating again", victim)
	e.clientsBack(ctx, 60*time.Second)
	anomalyID := ""
	if found {
		anomalyID = a.ID
	}
	id, ok := e.incidentFor(ctx, anomalyID, victim, 30*time.Second)
	if !e.Res.check("incident opened", ok, "%s", id) {
		return
	}
	e.logf("incident %s; waiting for its review", id)
	e.reviewed(ctx, id, 120*time.Second)
	e.Res.Paged = e.paged(ctx, id)
	want := map[bool]string{true: "a human was paged", false: "nobody was paged"}[o.wantPaged]
	e.Res.check(want, e.Res.Paged == o.wantPaged, "paged: %v", e.Res.Paged)
}
