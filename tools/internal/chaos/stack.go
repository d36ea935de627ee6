package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrStack wraps every failure to drive or read the stack.
var ErrStack = errors.New("chaos: stack")

// Stack is the running system under test, reached over NATS only: the
// gateways' and services' control verbs, the dev supervisor's list and
// restart, and the observer's view of wsheal.evt.>.
type Stack struct {
	NC  *nats.Conn
	Obs *Observer
	// Timeout bounds one request.
	Timeout time.Duration

	seq atomic.Uint64
	run string
}

// NewStack wraps a connection and an observer.
func NewStack(nc *nats.Conn, obs *Observer) *Stack {
	return &Stack{NC: nc, Obs: obs, Timeout: 5 * time.Second, run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
}

// id is a fresh command id.
func (s *Stack) id(verb string) string {
	return "chaos-" + s.run + "-" + verb + "-" + strconv.FormatUint(s.seq.Add(1), 10)
}

// call asks ep, on node when it is a gateway endpoint, under s.Timeout.
func call[Req, Rep any](ctx context.Context, s *Stack, ep events.Endpoint[Req, Rep], node string, req Req) (Rep, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	var rep Rep
	var err error
	if ep.PerNode() {
		rep, err = ep.CallNode(ctx, s.NC, node, req)
	} else {
		rep, err = ep.Call(ctx, s.NC, req)
	}
	if err != nil {
		return rep, fmt.Errorf("%w: %s: %w", ErrStack, ep.Subject(node), err)
	}
	return rep, nil
}

// Processes lists the dev supervisor's processes.
func (s *Stack) Processes(ctx context.Context) ([]events.Process, error) {
	l, err := call(ctx, s, events.CtlDevList, "", events.Empty{})
	return l.Processes, err
}

// Process finds one process by name.
func (s *Stack) Process(ctx context.Context, name string) (events.Process, error) {
	ps, err := s.Processes(ctx)
	if err != nil {
		return events.Process{}, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	return events.Process{}, fmt.Errorf("%w: no process %q in the dev stack", ErrStack, name)
}

// Restart asks the dev supervisor to restart a process.
func (s *Stack) Restart(ctx context.Context, name string) (events.Process, error) {
	rep, err := call(ctx, s, events.CtlDevRestart, "", events.RestartCommand{ID: s.id("restart"), Node: name})
	return rep.Process, err
}

// Signal sends sig to a running process of the dev stack, by name.
func (s *Stack) Signal(ctx context.Context, name string, sig syscall.Signal) (events.Process, error) {
	p, err := s.Process(ctx, name)
	if err != nil {
		return p, err
	}
	if !p.Running || p.PID <= 0 {
		return p, fmt.Errorf("%w: %s is not running", ErrStack, name)
	}
	if err := syscall.Kill(p.PID, sig); err != nil {
		return p, fmt.Errorf("%w: signal %s (pid %d): %w", ErrStack, name, p.PID, err)
	}
	return p, nil
}

// Gateway commands.

// Reconnect sends a reconnect command to a node.
func (s *Stack) Reconnect(ctx context.Context, node string, cmd events.ReconnectCommand) (events.ReconnectReply, error) {
	cmd.ID = s.id("reconnect")
	return call(ctx, s, events.CtlGatewayReconnect, node, cmd)
}

// Resize changes a node's settings (ID is filled in).
func (s *Stack) Resize(ctx context.Context, node string, cmd events.ResizeCommand) error {
	cmd.ID = s.id("resize")
	_, err := call(ctx, s, events.CtlGatewayResize, node, cmd)
	return err
}

// Drain starts a paced drain of a node.
func (s *Stack) Drain(ctx context.Context, node string, over time.Duration, reason string) error {
	cmd := events.DrainCommand{ID: s.id("drain"), OverMS: over.Milliseconds(), Reason: reason}
	_, err := call(ctx, s, events.CtlGatewayDrain, node, cmd)
	return err
}

// Undrain lets a node accept clients again.
func (s *Stack) Undrain(ctx context.Context, node string) error {
	_, err := call(ctx, s, events.CtlGatewayUndrain, node, events.UndrainCommand{ID: s.id("undrain")})
	return err
}

// GatewayStatus asks a node for its status.
func (s *Stack) GatewayStatus(ctx context.Context, node string) (events.GatewayStatus, error) {
	return call(ctx, s, events.CtlGatewayStatus, node, events.GatewayStatusRequest{})
}

// Control-plane services.

// HandsOff sets or clears a node's hands-off lock (clearing lifts a
// quarantine too).
func (s *Stack) HandsOff(ctx context.Context, node string, on bool, reason string) error {
	cmd := events.HandsOffCommand{ID: "chaos-" + nuid.Next(), Node: node, On: &on, Reason: reason, By: "wsheal-chaos"}
	_, err := call(ctx, s, events.CtlHealerHandsOff, "", cmd)
	return err
}

// HealerStatus reads the healer's switches.
func (s *Stack) HealerStatus(ctx context.Context) (events.HealerStatus, error) {
	return call(ctx, s, events.CtlHealerStatus, "", events.Empty{})
}

// Fleet reads the monitor's fleet view.
func (s *Stack) Fleet(ctx context.Context) (events.FleetStatus, error) {
	return call(ctx, s, events.CtlMonitorStatus, "", events.FleetStatusRequest{})
}

// Incident reads one incident from the notifier.
func (s *Stack) Incident(ctx context.Context, id string) (events.Incident, error) {
	return call(ctx, s, events.CtlIncidentGet, "", events.IncidentRequest{Incident: id})
}

// Review reads an incident's review from the notifier.
func (s *Stack) Review(ctx context.Context, id string) (events.Review, error) {
	return call(ctx, s, events.CtlIncidentReview, "", events.IncidentRequest{Incident: id})
}

// Incidents lists incidents ("open" or a state; "" all).
func (s *Stack) Incidents(ctx context.Context, state string) ([]events.Incident, error) {
	l, err := call(ctx, s, events.CtlIncidentList, "", events.IncidentListRequest{State: state})
	return l.Incidents, err
}

// GatewayNames are the gateways of the dev stack (from its process list),
// or those that beat, when there is no dev supervisor.
func (s *Stack) GatewayNames(ctx context.Context) []string {
	var out []string
	if ps, err := s.Processes(ctx); err == nil {
		for _, p := range ps {
			if p.Service == events.ServiceGateway {
				out = append(out, p.Name)
			}
		}
	}
	if len(out) == 0 {
		for _, g := range s.Obs.Gateways() {
			out = append(out, g.Node)
		}
	}
	slices.Sort(out)
	return out
}
