package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wsheal/wsheal/tools/internal/bench"
)

// Defaults of Config.
const (
	DefaultClients  = 300
	DefaultRate     = 20
	DefaultChannels = 10
	// DefaultStalls is the slowdown scenario's least number of stall cycles.
	DefaultStalls = 12
	// ScenarioTimeout bounds one scenario, its restore included.
	ScenarioTimeout = 5 * time.Minute
)

// errSkip marks a scenario the stack cannot stage.
var errSkip = errors.New("skipped")

// skipf says why a scenario cannot run here.
func skipf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSkip, fmt.Sprintf(format, args...))
}

// Config of a chaos run.
type Config struct {
	URLs     []string // gateway WebSocket URLs for the load (default: from heartbeats)
	Clients  int
	Rate     float64
	Channels int
	// Stalls is the least number of stall cycles the slowdown scenario
	// injects (default DefaultStalls); fewer make a bounded run.
	Stalls   int
	Server   string    // for the report
	Progress io.Writer // progress lines; nil: none
}

func (c Config) withDefaults() Config {
	if c.Clients <= 0 {
		c.Clients = DefaultClients
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Channels <= 0 {
		c.Channels = DefaultChannels
	}
	if c.Stalls <= 0 {
		c.Stalls = DefaultStalls
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Scenario is one named fault and what the system must do about it.
type Scenario struct {
	Name   string
	Title  string
	Expect string
	// Clients, when set, is the scenario's own load size.
	Clients int
	Run     func(ctx context.Context, e *Env) error
}

// Runner runs scenarios one after another against one stack.
type Runner struct {
	st  *Stack
	cfg Config
	// used counts the faults injected per node, to spread them (the
	// healer's flap detection counts heals per node).
	used map[string]int
	// start is when Run began (the load has run since).
	start time.Time
}

// NewRunner prepares a run.
func NewRunner(st *Stack, cfg Config) *Runner {
	return &Runner{st: st, cfg: cfg.withDefaults(), used: map[string]int{}}
}

func (rn *Runner) logf(format string, args ...any) {
	fmt.Fprintf(rn.cfg.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Run executes the scenarios in order. A scenario that fails is recorded
// and the run goes on; only ctx ends it early.
func (rn *Runner) Run(ctx context.Context, scs []Scenario) *Report {
	rep := &Report{Server: rn.cfg.Server, Start: time.Now(), Clients: rn.cfg.Clients, Rate: rn.cfg.Rate}
	rn.start = rep.Start
	for _, sc := range scs {
		if ctx.Err() != nil {
			break
		}
		rn.logf("== %s: %s", sc.Name, sc.Title)
		r := rn.runOne(ctx, sc)
		rep.Results = append(rep.Results, r)
		line := fmt.Sprintf("== %s %s (detect %s, remediate %s, clients back %s, lost %d, dup %d)",
			sc.Name, r.Status, msText(r.DetectMS), msText(r.RemediateMS), msText(r.RecoverMS), r.Lost, r.Duplicated)
		if r.Reason != "" {
			line += ": " + r.Reason
		}
		rn.logf("%s", line)
	}
	rep.End = time.Now()
	rep.Series = rn.st.Obs.Series(rep.Start, rep.End)
	return rep
}

func (rn *Runner) runOne(parent context.Context, sc Scenario) *Result {
	ctx, cancel := context.WithTimeout(parent, ScenarioTimeout)
	defer cancel()
	clients := cmp.Or(sc.Clients, rn.cfg.Clients)
	r := &Result{Name: sc.Name, Title: sc.Title, Start: time.Now(), Clients: clients}
	defer func() { r.End = time.Now(); r.settle() }()
	if err := rn.restore(ctx, r, false); err != nil {
		r.Reason = "the stack was not healthy before the scenario: " + err.Error()
		return r
	}
	e := &Env{Stack: rn.st, Res: r, rn: rn}
	urls := rn.cfg.URLs
	if len(urls) == 0 {
		urls = rn.urls()
	}
	load, err := bench.Start(ctx, bench.Config{URLs: urls, Clients: clients, Rate: rn.cfg.Rate,
		Channels: rn.cfg.Channels, DialRate: 300, Drain: 20 * time.Second}, nil)
	if err != nil {
		r.Reason = "load: " + err.Error()
		return r
	}
	e.Load = load
	stopSampling := e.sample()
	runErr := sc.Run(ctx, e)
	e.runCleanups()
	if err := e.awaitClientsSteady(ctx, 30*time.Second); err != nil && runErr == nil {
		r.check("clients settled before the load stopped", false, "%v", err)
	}
	stopSampling()
	e.finishLoad(ctx)
	switch {
	case errors.Is(runErr, errSkip):
		r.Status, r.Reason = StatusSkipped, runErr.Error()
	case runErr != nil:
		r.Reason = runErr.Error()
	}
	if err := rn.restore(ctx, r, true); err != nil {
		r.check("stack restored to healthy", false, "%v", err)
	}
	return r
}

// urls are the public URLs of the gateways that beat.
func (rn *Runner) urls() []string {
	var out []string
	for _, g := range rn.st.Obs.Gateways() {
		out = append(out, g.URL)
	}
	return out
}

// Env is what a scenario works with: the stack, the load and its result.
type Env struct {
	*Stack
	Res  *Result
	Load *bench.Load
	rn   *Runner

	mu       sync.Mutex
	samples  []bench.Snapshot
	cleanups []func(context.Context)
}

// logf prints a progress line under the scenario's name.
func (e *Env) logf(format string, args ...any) {
	e.rn.logf("   %s: %s", e.Res.Name, fmt.Sprintf(format, args...))
}

// onCleanup registers an undo step, run (last first) after the scenario
// whatever happened, so nothing is left stopped, held or resized.
func (e *Env) onCleanup(f func(context.Context)) { e.cleanups = append(e.cleanups, f) }

func (e *Env) runCleanups() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i](ctx)
	}
	e.cleanups = nil
}

// fault records the moment of the fault.
func (e *Env) fault(target, label string) {
	e.Res.Target = target
	e.Res.FaultAt = time.Now()
	e.Res.mark("fault", label)
	e.logf("fault: %s", label)
}

// victim picks the gateway least used by earlier faults that beats now.
func (e *Env) victim(exclude ...string) (string, error) {
	best, n := "", 0
	now := time.Now()
	for _, g := range e.Obs.Gateways() {
		if !g.Fresh(now) || g.Draining || contains(exclude, g.Node) {
			continue
		}
		if c := e.rn.used[g.Node]; best == "" || c < n {
			best, n = g.Node, c
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no healthy gateway to fault", ErrStack)
	}
	e.rn.used[best]++
	return best, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// waitFor polls cond every 100 ms until it holds, timeout passes or ctx
// ends.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
