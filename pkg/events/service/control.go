package service

import (
	"context"
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

// Controls is a registered micro service. Every endpoint (a Handle row)
// runs the same way: the request is decoded strictly
// (events.DecodeCommand: a bad one answers bad_request and never reaches
// the handler), the handler runs under a server span (events.TraceHandler)
// with a context that ends after Control.Timeout, its reply or error is
// sent with events.Respond or events.RespondError, and a panic answers
// internal, is logged and the service keeps serving.
type Controls struct {
	cfg Control
	svc micro.Service
}

// Row is one endpoint of a service and its handler, made by Handle.
type Row struct {
	service, verb string
	serve         func(c *Controls) micro.HandlerFunc
}

// AddControl registers the micro service (version events.Version), its
// endpoint group and one endpoint per row, or nothing if a row does not
// belong to the service. Stop it when the process ends.
func AddControl(nc *nats.Conn, c Control, rows ...Row) (*Controls, error) {
	group := events.ControlGroup(c.Service)
	if c.Service == events.ServiceGateway {
		if err := events.ValidateToken(c.Node); err != nil {
			return nil, fmt.Errorf("service: control of gateway node %q: %w", c.Node, err)
		}
		group = events.GatewayControlGroup(c.Node)
	}
	for _, r := range rows {
		if r.service != c.Service {
			return nil, fmt.Errorf("service: endpoint %s %s registered on %s", r.service, r.verb, c.Service)
		}
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
	ctl := &Controls{cfg: c, svc: svc}
	g := svc.AddGroup(group)
	for _, r := range rows {
		if err := g.AddEndpoint(r.verb, events.TraceHandler(c.Service+" "+r.verb, r.serve(ctl))); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("service: endpoint %s %s: %w", r.service, r.verb, err)
		}
	}
	// While connected, the server holds every verb's subscription once
	// this returns, so a request sent on another connection right after
	// finds them. While reconnecting there is nothing to wait for: the
	// subscriptions are sent again on reconnect.
	_ = nc.FlushTimeout(2 * time.Second)
	return ctl, nil
}

// Micro is the registered micro service (for its Info and Stats).
func (c *Controls) Micro() micro.Service { return c.svc }

// Stop unregisters the service; requests in flight are answered first.
func (c *Controls) Stop() error { return c.svc.Stop() }

// Handle is the row of ep answered by h.
func Handle[Req, Rep any, P interface {
	*Req
	events.Command
}](ep events.Endpoint[Req, Rep], h func(context.Context, *Req) (Rep, error)) Row {
	return Row{service: ep.Service, verb: ep.Verb, serve: func(c *Controls) micro.HandlerFunc {
		return func(req micro.Request) {
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
	}}
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
