package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events"
)

// flood publishes 16 KiB messages to channel through eight connections
// at 50 per second each (under the gateway's inbound limit) until ctx
// ends; it returns the counter of acknowledged publishes.
func (e *Env) flood(ctx context.Context, wsURL, channel string) *atomic.Int64 {
	return e.floodWith(ctx, wsURL, channel, 8)
}

// floodBytesPerConn is what one flood connection publishes per second.
const floodBytesPerConn = 50 * 16 << 10

// floodWith is flood through conns connections.
func (e *Env) floodWith(ctx context.Context, wsURL, channel string, conns int) *atomic.Int64 {
	var sent atomic.Int64
	data := []byte(`{"pad":"` + strings.Repeat("x", 16<<10) + `"}`)
	for range conns {
		go func() {
			c, err := client.Dial(ctx, client.Config{URLs: []string{wsURL}})
			if err != nil {
				return
			}
			defer c.Close()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if _, err := c.Publish(pctx, channel, data); err == nil {
					sent.Add(1)
				}
				cancel()
			}
		}()
	}
	return &sent
}

// natsNode stops one server of the dev stack's three-node NATS cluster
// and starts it again: services reconnect to the others, nothing is lost.
func natsNode(ctx context.Context, e *Env) error {
	rep, err := call(ctx, e.Stack, events.CtlDevNATS, "", events.NATSCommand{Op: events.NATSList})
	if errors.Is(err, events.ErrNoResponders) {
		return skipf("no dev supervisor answers %s", events.CtlDevNATS.Subject(""))
	}
	if err != nil || len(rep.Running) < 3 {
		return skipf("needs a three-node NATS cluster (wsheal dev --nats-cluster 3): %v %v", rep.Running, err)
	}
	node := "n2"
	if strings.Contains(rep.URLs, e.NC.ConnectedUrl()) && strings.HasSuffix(e.NC.ConnectedServerName(), "n2") {
		node = "n3"
	}
	if _, err := call(ctx, e.Stack, events.CtlDevNATS, "", events.NATSCommand{Op: events.NATSStop, Node: node}); err != nil {
		return err
	}
	e.onCleanup(func(ctx context.Context) {
		_, _ = call(ctx, e.Stack, events.CtlDevNATS, "", events.NATSCommand{Op: events.NATSStart, Node: node})
	})
	e.fault("nats-"+node, "NATS server "+node+" stopped")
	time.Sleep(2 * time.Second)
	healthy := waitFor(ctx, 20*time.Second, func() bool {
		now := time.Now()
		for _, g := range e.Obs.Gateways() {
			if !g.Fresh(now) {
				return false
			}
		}
		return servicesBeating(e.Obs.Services(), now)
	})
	e.Res.check("services carried on", healthy, "every gateway and service beating without %s", node)
	waitFor(ctx, 8*time.Second, func() bool { return false }) // keep the load running without the node
	if _, err := call(ctx, e.Stack, events.CtlDevNATS, "", events.NATSCommand{Op: events.NATSStart, Node: node}); err != nil {
		e.Res.check("NATS node restarted", false, "%v", err)
	}
	e.Res.mark("restore", "NATS "+node+" started")
	e.clientsBack(ctx, 60*time.Second)
	if down := e.Obs.Since(e.Res.FaultAt, openAnomaly("", events.KindNodeDown, events.KindNodeHung, events.KindFleetSilent)); len(down) > 0 {
		e.Res.note("%d node_down/node_hung/fleet_silent anomalies while the NATS node was away", len(down))
	}
	return nil
}

// controlPlane kills a gateway, then kill -9s one instance each of the
// monitor, the healer and the notifier while the incident is open; with
// replicas the survivors carry on, else the supervisor restarts them. The
// incident must still resolve and its review exist.
func controlPlane(ctx context.Context, e *Env) error {
	ps, err := e.Processes(ctx)
	if err != nil {
		return skipf("no dev supervisor: %v", err)
	}
	victims := map[string]events.Process{}
	replicas := map[string]int{}
	for _, p := range ps {
		switch p.Service {
		case events.ServiceMonitor, events.ServiceHealer, events.ServiceNotifier:
			if p.Running {
				replicas[p.Service]++
				if _, ok := victims[p.Service]; !ok {
					victims[p.Service] = p
				}
			}
		}
	}
	if len(victims) < 3 {
		return skipf("monitor, healer and notifier must run under the dev supervisor (found %d)", len(victims))
	}
	v, err := e.victim()
	if err != nil {
		return err
	}
	gp, err := e.Signal(ctx, v, syscall.SIGKILL)
	if err != nil {
		return err
	}
	e.fault(v, fmt.Sprintf("kill -9 %s, then the monitor, healer and notifier mid-incident", v))
	a, found := e.detected(ctx, v, 45*time.Second)
	anomalyID := ""
	if found {
		anomalyID = a.ID
	}
	id, ok := e.incidentFor(ctx, anomalyID, v, 20*time.Second)
	e.Res.check("incident opened", ok, "%s", id)
	var killed []string
	for _, p := range victims {
		if syscall.Kill(p.PID, syscall.SIGKILL) == nil {
			killed = append(killed, p.Name)
		}
	}
	e.Res.mark("note", "kill -9 "+strings.Join(killed, ", "))
	e.logf("killed %v (replicas %v)", killed, replicas)
	restart := func() {
		var wg sync.WaitGroup
		for _, name := range killed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.Restart(ctx, name)
				e.Res.check("restart "+name, err == nil, "%v", err)
			}()
		}
		wg.Wait()
	}
	if replicas[events.ServiceHealer] < 2 {
		time.Sleep(2 * time.Second)
		restart()
	} else {
		e.onCleanup(func(context.Context) { restart() })
	}
	back := e.nodeBack(ctx, v, gp.PID, 90*time.Second)
	backAt := time.Now()
	e.Res.check("node back", back, "%s beating again from a new process", v)
	if s, ok := e.awaitEvent(ctx, 20*time.Second, remediation(v, events.PhaseSucceeded, events.ActionRestart)); ok {
		e.Res.RemediateMS = e.Res.since(evTime(s))
		e.Res.Marks = append(e.Res.Marks, Mark{At: evTime(s), Kind: "remediate", Label: "restart " + v})
	} else if back {
		e.Res.RemediateMS = e.Res.since(backAt)
		e.Res.Marks = append(e.Res.Marks, Mark{At: backAt, Kind: "remediate", Label: v + " back"})
		e.Res.note("the healer recorded no succeeded restart of %s: its instance was killed while the action was in flight; the node came back from the restart it had requested (time to remediate is when %s beat again)", v, v)
	}
	_, resolved := e.awaitEvent(ctx, 60*time.Second, func(s Seen) bool {
		a := payload[*events.Anomaly](s)
		return a != nil && a.ID == anomalyID && a.State == events.AnomalyResolved
	})
	e.Res.check("anomaly resolved", resolved, "%s", anomalyID)
	e.clientsBack(ctx, 60*time.Second)
	if ok {
		e.reviewed(ctx, id, 150*time.Second)
		e.Res.Paged = e.paged(ctx, id)
		e.Res.check("nobody was paged", !e.Res.Paged, "paged: %v", e.Res.Paged)
	}
	return nil
}
