package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
)

// DefaultControlTimeout bounds one control handler when Control.Timeout
// is zero.
const DefaultControlTimeout = 10 * time.Second

// Control describes the NATS micro service of a wsheal process: its
// events.ServiceName, the group its endpoints live in, and how every
// handler runs.
type Control struct {
	// Service is events.ServiceGateway, ServiceMonitor, ServiceHealer,
	// ServiceNotifier or ServiceDev.
	Service string
	// Node is the gateway node whose group (events.GatewayControlGroup)
	// holds the endpoints; required for ServiceGateway, unused otherwise.
	Node        string
	Description string
	Metadata    map[string]string
	// Timeout is the deadline of each handler's context
	// (DefaultControlTimeout when zero).
	Timeout time.Duration
	// Log receives a handler's panic with its stack.
	Log zerolog.Logger
	// OnPanic, if set, is called after a handler panicked (to count it).
	OnPanic func(verb string)
}

// Controls is a registered micro service. Every endpoint added with
// Handle runs the same way: the request is decoded strictly
// (events.DecodeCommand: a bad one answers bad_request and never reaches
// the handler), the handler runs under a server span (events.TraceHandler)
// with a context that ends after Control.Timeout, its reply or error is
// sent with events.Respond or events.RespondError, and a panic answers
// internal, is logged and the service keeps serving.
type Controls struct {
	cfg   Control
	svc   micro.Service
	group micro.Group
}

// AddControl registers the micro service (version events.Version) and
// its endpoint group. Stop it when the process ends.
func AddControl(nc *nats.Conn, c Control) (*Controls, error) {
	group := events.ControlGroup(c.Service)
	if c.Service == events.ServiceGateway {
		if err := events.ValidateToken(c.Node); err != nil {
			return nil, fmt.Errorf("service: control of gateway node %q: %w", c.Node, err)
		}
		group = events.GatewayControlGroup(c.Node)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultControlTimeout
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        events.ServiceName(c.Service),
		Version:     events.Version,
		Description: c.Description,
		Metadata:    c.Metadata,
	})
	if err != nil {
		return nil, fmt.Errorf("service: %s control: %w", c.Service, err)
	}
	return &Controls{cfg: c, svc: svc, group: svc.AddGroup(group)}, nil
}

// Micro is the registered micro service (for its Info and Stats).
func (c *Controls) Micro() micro.Service { return c.svc }

// Stop unregisters the service; requests in flight are answered first.
func (c *Controls) Stop() error { return c.svc.Stop() }

// Handle adds ep's endpoint, answered by h. The endpoint must belong to
// the service c registers.
func Handle[Req, Rep any, P interface {
	*Req
	events.Command
}](c *Controls, ep events.Endpoint[Req, Rep], h func(context.Context, *Req) (Rep, error)) error {
	if ep.Service != c.cfg.Service {
		return fmt.Errorf("service: endpoint %s registered on %s", ep, c.cfg.Service)
	}
	serve := func(req micro.Request) {
		defer c.rescue(ep.Verb, req)
		cmd := new(Req)
		if err := events.DecodeCommand(req.Data(), P(cmd)); err != nil {
			events.RespondError(req, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		defer cancel()
		ctx = context.WithValue(ctx, requestKey{}, Request{Subject: req.Subject(), Headers: req.Headers()})
		rep, err := h(ctx, cmd)
		if err != nil {
			events.RespondError(req, err)
			return
		}
		events.Respond(req, rep)
	}
	name := c.cfg.Service + " " + ep.Verb
	if err := c.group.AddEndpoint(ep.Verb, events.TraceHandler(name, serve)); err != nil {
		return fmt.Errorf("service: endpoint %s: %w", ep, err)
	}
	return nil
}

// rescue turns a handler's panic into an internal error reply.
func (c *Controls) rescue(verb string, req micro.Request) {
	v := recover()
	if v == nil {
		return
	}
	if c.cfg.OnPanic != nil {
		c.cfg.OnPanic(verb)
	}
	c.cfg.Log.Error().Interface("panic", v).Str("verb", verb).Bytes("stack", debug.Stack()).Msg("control handler panicked")
	events.RespondError(req, events.Errorf(events.CodeInternal, "internal error handling %s", verb))
}

// Request is what a handler may read of its request beyond the payload.
type Request struct {
	Subject string
	Headers micro.Headers
}

type requestKey struct{}

// RequestOf returns the request a handler's context was made for (zero
// outside a handler).
func RequestOf(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Setup registers every row with Handle and stops the service if one
// fails, so that a process serves all its endpoints or none:
//
//	err := ctl.Setup(
//		service.Handle(ctl, events.CtlHealerStatus, s.status),
//		...)
func (c *Controls) Setup(rows ...error) error {
	if err := errors.Join(rows...); err != nil {
		_ = c.svc.Stop()
		return err
	}
	return nil
}
