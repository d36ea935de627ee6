package chaos

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// The slowdown scenarios: the fleet slowed as a whole must get one fleet
// anomaly and no node remedy; one node slowed alone must be remedied.

const (
	// stallFor and stallEvery: each cycle stops the processes for stallFor,
	// then throttles them (see throttle) until the next cycle.
	stallFor   = 1500 * time.Millisecond
	stallEvery = 6500 * time.Millisecond
	// maxStalls bounds the cycles of a slowdown that is not yet named
	// (about 2 minutes); settledFor is how long fleet_degraded must have
	// been open before a slowdown past its minimum cycles ends.
	maxStalls  = 18
	settledFor = 10 * time.Second
	// warmUp is how long the monitor needs under load to learn its RTT
	// baselines (5 snapshots of 5 s), counted from the start of the run.
	warmUp = 30 * time.Second
)

// nodeActions are the remedies that act on nodes: none may answer a
// slowdown the whole fleet shares.
var nodeActions = []string{events.ActionRestart, events.ActionDrain, events.ActionReconnect,
	events.ActionQuarantine, events.ActionRebalance}

// nodeKinds are the node anomalies a slow node can raise.
var nodeKinds = []string{events.KindRTTDegraded, events.KindStaleSpike, events.KindSlowConsumers,
	events.KindErrorRate, events.KindSaturation, events.KindNodeHung, events.KindFlapping}

// warm waits until the run has had warmUp of load, so that the monitor's
// baselines exist before the fleet is slowed.
func (e *Env) warm(ctx context.Context) {
	if wait := warmUp - time.Since(e.rn.start); wait > 0 {
		e.logf("letting the monitor learn its baselines under load for %s", wait.Round(time.Second))
		waitFor(ctx, wait, func() bool { return false })
	}
}

// pidsOf returns the running processes of nodes.
func (e *Env) pidsOf(ctx context.Context, nodes []string) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		if p, err := e.Process(ctx, n); err == nil && p.Running && p.PID > 0 {
			out[n] = p.PID
		}
	}
	return out
}

// stall slows every pid together, in cycles of stallEvery: stopped for
// stallFor, then throttled (stopped 150 ms of every 200 ms) until the
// next cycle, as a host whose CPU is stolen would run them. It runs at
// least minCycles and at most maxCycles, and ends between the two once
// enough says so. The processes are always left running.
func (e *Env) stall(ctx context.Context, pids []int, minCycles, maxCycles int, enough func() bool) int {
	cycles := 0
	for cycles < maxCycles && ctx.Err() == nil && (cycles < minCycles || !enough()) {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGSTOP)
		}
		time.Sleep(stallFor) // paces the fault: the processes stay stopped this long
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
		e.throttle(ctx, pids, stallEvery-stallFor, func() bool { return false })
		cycles++
	}
	return cycles
}

// throttle slows processes as a CPU quota or a noisy neighbour on their
// core would: stopped for 150 ms of every 200 ms, together, until done
// says so or limit passes. A CPU hog cannot be aimed at one process, so
// its share of the CPU is taken this way. The processes are always left
// running.
func (e *Env) throttle(ctx context.Context, pids []int, limit time.Duration, done func() bool) time.Duration {
	start := time.Now()
	const stopped, running = 150 * time.Millisecond, 50 * time.Millisecond
	signal := func(sig syscall.Signal) {
		for _, p := range pids {
			_ = syscall.Kill(p, sig)
		}
	}
	for i := 0; ctx.Err() == nil && time.Since(start) < limit; i++ {
		if i%5 == 0 && done() {
			break
		}
		signal(syscall.SIGSTOP)
		time.Sleep(stopped) // paces the fault
		signal(syscall.SIGCONT)
		time.Sleep(running)
	}
	signal(syscall.SIGCONT)
	return time.Since(start)
}

// hog starts one busy loop per CPU in a process group of its own; each
// ends by itself after d (a shell loop that reads the clock every 100000
// turns), and stop kills the group at once.
func hog(d time.Duration) (stop func(), n int, err error) {
	script := fmt.Sprintf(`end=$(( $(date +%%s) + %d )); while [ "$(date +%%s)" -lt "$end" ]; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; done`,
		int(d.Seconds())+1)
	pgid := 0
	var cmds []*exec.Cmd
	for range runtime.NumCPU() {
		c := exec.Command("sh", "-c", script)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
		if err := c.Start(); err != nil {
			break
		}
		if pgid == 0 {
			pgid = c.Process.Pid
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return func() {}, 0, fmt.Errorf("%w: no busy loop started", ErrStack)
	}
	return func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		for _, c := range cmds {
			_ = c.Wait()
		}
	}, len(cmds), nil
}

// slowdown slows every gateway at once: a CPU hog on the host and short
// simultaneous SIGSTOP/SIGCONT stalls of every gateway, repeated. Zero
// node remedies; one fleet-level anomaly; at most one incident.
func slowdown(ctx context.Context, e *Env) error {
	e.warm(ctx)
	names := e.GatewayNames(ctx)
	pids := e.pidsOf(ctx, names)
	if len(pids) < 2 {
		return skipf("needs at least two gateways under the dev supervisor (found %d)", len(pids))
	}
	var list []int
	for _, p := range pids {
		list = append(list, p)
	}
	n := e.rn.cfg.Stalls
	most := max(n, maxStalls)
	stopHog, busy, err := hog(time.Duration(most) * stallEvery)
	if err != nil {
		return err
	}
	e.onCleanup(func(context.Context) { stopHog() })
	e.fault("fleet", fmt.Sprintf("%d busy loops on the host, and every gateway (%s) stopped %s every %s and throttled in between "+
		"(stopped 150 ms of every 200 ms), %d cycles, then on until fleet_degraded has been open %s (%d cycles at most)",
		busy, strings.Join(names, ","), stallFor, stallEvery, n, settledFor, most))
	// Past its n cycles the slowdown goes on until the monitor has named
	// it for a while: the healer must leave the nodes alone all along.
	var named time.Time
	enough := func() bool {
		if named.IsZero() {
			if s, ok := e.Obs.First(e.Res.FaultAt, openAnomaly(events.FleetTarget, events.KindFleetDegraded)); ok {
				named = evTime(s)
			}
			return false
		}
		return time.Since(named) >= settledFor
	}
	cycles := e.stall(ctx, list, n, most, enough)
	stopHog()
	over := time.Now()
	e.Res.mark("restore", fmt.Sprintf("slowdown over after %d stalls", cycles))
	// Late decisions show up while fleet_degraded clears (FLEET_CLEAR_AFTER
	// rounds after the last shared sample); a bounded run waits less.
	settle := 75 * time.Second
	if n < DefaultStalls {
		settle = 30 * time.Second
	}
	e.logf("slowdown over; waiting up to %s for fleet_degraded to clear", settle)
	end, cleared := e.awaitEvent(ctx, settle, func(s Seen) bool {
		a := payload[*events.Anomaly](s)
		return a != nil && a.Kind == events.KindFleetDegraded && a.State == events.AnomalyResolved
	})
	if cleared {
		e.Res.note("fleet_degraded resolved %s after the last stall", s1(evTime(end).Sub(over)))
	} else {
		e.Res.note("fleet_degraded still open %s after the slowdown", settle)
	}
	e.judgeShared(ctx)
	e.clientsBack(ctx, 60*time.Second)
	return nil
}

// s1 rounds a duration to a tenth of a second for a note.
func s1(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// judgeShared checks the pass rule of a shared slowdown.
func (e *Env) judgeShared(ctx context.Context) {
	acts := e.Obs.Since(e.Res.FaultAt, func(s Seen) bool {
		r := payload[*events.Remediation](s)
		// Decisions to act (an earlier scenario's action may still report
		// its success meanwhile).
		return r != nil && contains(nodeActions, r.Action) && !r.DryRun &&
			(r.Phase == events.PhaseRequested || r.Phase == events.PhaseStarted)
	})
	var what []string
	for _, s := range acts {
		r := payload[*events.Remediation](s)
		what = append(what, r.Action+" "+r.Target+" ("+r.Phase+")")
	}
	e.Res.check("no node remedy", len(acts) == 0, "%d restart/drain/reconnect/quarantine/rebalance decisions %v", len(acts), what)
	fleetIDs, nodeIDs := map[string]string{}, map[string]string{}
	for _, s := range e.Obs.Since(e.Res.FaultAt, openAnomaly("")) {
		a := payload[*events.Anomaly](s)
		if a.Target == events.FleetTarget {
			fleetIDs[a.ID] = a.Kind
		} else {
			nodeIDs[a.ID] = a.Kind + " on " + a.Target
		}
	}
	degraded := 0
	for _, k := range fleetIDs {
		if k == events.KindFleetDegraded {
			degraded++
		}
	}
	e.Res.check("one fleet-level anomaly", len(fleetIDs) == 1 && degraded == 1, "fleet-level anomalies %v", fleetIDs)
	if s, ok := e.Obs.First(e.Res.FaultAt, openAnomaly(events.FleetTarget, events.KindFleetDegraded)); ok {
		a := payload[*events.Anomaly](s)
		at := evTime(s)
		e.Res.DetectMS = e.Res.since(at)
		e.Res.Marks = append(e.Res.Marks, Mark{At: at, Kind: "detect", Label: "fleet_degraded"})
		e.logf("detected: fleet_degraded after %s: %s", msText(e.Res.DetectMS), a.Evidence.Detail)
	}
	if len(nodeIDs) > 0 {
		e.Res.note("node anomalies opened (no remedy may follow them): %v", nodeIDs)
	}
	// The incidents opened for this slowdown (events of an earlier
	// scenario's incident may still arrive).
	incidents := map[string]bool{}
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Incident]) {
		inc := payload[*events.Incident](s)
		if inc.OpenedAt.Before(e.Res.FaultAt) {
			continue
		}
		incidents[inc.ID] = true
		e.Res.Incident = inc.ID
	}
	e.Res.check("at most one incident", len(incidents) <= 1, "%d incidents", len(incidents))
	if e.Res.Incident != "" {
		e.Res.Paged = e.paged(ctx, e.Res.Incident)
	}
}

// oneSlow stalls one gateway's process alone, repeatedly: that node
// stands out from healthy peers, so it gets a node anomaly and a node
// remedy within the usual time, and the fleet gets no fleet anomaly.
func oneSlow(ctx context.Context, e *Env) error {
	e.warm(ctx)
	v, err := e.victim()
	if err != nil {
		return err
	}
	p, err := e.Process(ctx, v)
	if err != nil || !p.Running {
		return skipf("%s is not under the dev supervisor: %v", v, err)
	}
	e.onCleanup(func(context.Context) { _ = syscall.Kill(p.PID, syscall.SIGCONT) })
	e.fault(v, fmt.Sprintf("%s (pid %d) alone stopped 150 ms of every 200 ms (three quarters of its CPU taken)", v, p.PID))
	acted := func() bool {
		_, ok := e.Obs.First(e.Res.FaultAt, remediation(v, events.PhaseStarted, nodeActions...))
		return ok
	}
	// The slowdown goes on until the healer acts on the node (or 2 min).
	took := e.throttle(ctx, []int{p.PID}, 2*time.Minute, acted)
	e.Res.mark("restore", fmt.Sprintf("slowdown stopped after %s", took.Round(time.Second)))
	e.detected(ctx, v, time.Second, nodeKinds...)
	if s, ok := e.awaitEvent(ctx, time.Second, remediation(v, events.PhaseStarted, nodeActions...)); ok {
		r := payload[*events.Remediation](s)
		at := evTime(s)
		e.Res.RemediateMS = e.Res.since(at)
		e.Res.Marks = append(e.Res.Marks, Mark{At: at, Kind: "remediate", Label: r.Action + " " + v})
		took := at.Sub(e.Res.FaultAt)
		e.Res.check("remedied within the usual time", took <= 90*time.Second, "%s %s started %s after the fault", r.Action, v, took.Round(time.Millisecond))
	} else {
		e.Res.check("remedied within the usual time", false, "no node remedy on %s", v)
	}
	if _, ok := e.Obs.First(e.Res.FaultAt, openAnomaly(events.FleetTarget, events.KindFleetDegraded)); ok {
		e.Res.check("no fleet anomaly", false, "fleet_degraded opened for one slow node")
	}
	others := e.Obs.Since(e.Res.FaultAt, func(s Seen) bool {
		r := payload[*events.Remediation](s)
		return r != nil && r.Phase == events.PhaseStarted && r.Target != v && r.Target != events.FleetTarget && contains(nodeActions, r.Action)
	})
	e.Res.check("healthy peers left alone", len(others) == 0, "%d remedies on other nodes", len(others))
	e.clientsBack(ctx, 60*time.Second)
	return nil
}
