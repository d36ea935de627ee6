package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Endpoint is one control verb of a service, typed: Req is its request
// (a Command once addressed, *Req implements Command) and Rep its reply.
// The table of every endpoint is in endpoints.go; a service registers
// a handler per row (service.Handle) and a caller asks with Call or,
// for a gateway node's verbs, CallNode. Both sides thus pair a verb with
// its payloads in one place.
//
// Gateway endpoints (Service == ServiceGateway) are per node, under
// GatewayControlGroup(node); every other service is a singleton under
// ControlGroup(Service).
type Endpoint[Req, Rep any] struct {
	Service string // ServiceGateway, ServiceMonitor, ServiceHealer, ServiceNotifier or ServiceDev
	Verb    string
}

// ErrEndpointAddress is returned by Call for a gateway endpoint (it needs
// a node: CallNode) and by CallNode for a singleton service's endpoint.
var ErrEndpointAddress = errors.New("events: endpoint addressed the wrong way")

// PerNode reports whether the endpoint lives on each gateway node.
func (e Endpoint[Req, Rep]) PerNode() bool { return e.Service == ServiceGateway }

// Subject is the endpoint's subject: on node for a per-node endpoint
// (node is ignored otherwise).
func (e Endpoint[Req, Rep]) Subject(node string) string {
	if e.PerNode() {
		return GatewayControlSubject(node, e.Verb)
	}
	return ControlSubject(e.Service, e.Verb)
}

// String names the endpoint as "<service> <verb>".
func (e Endpoint[Req, Rep]) String() string { return e.Service + " " + e.Verb }

// Call asks a singleton service and decodes its reply. Errors are those
// of Request: an *Error the service answered, ErrNoResponders when nobody
// answered; without a deadline on ctx the request waits 5 s.
func (e Endpoint[Req, Rep]) Call(ctx context.Context, nc *nats.Conn, req Req) (Rep, error) {
	var rep Rep
	if e.PerNode() {
		return rep, fmt.Errorf("%w: %s is per node: use CallNode", ErrEndpointAddress, e)
	}
	err := Request(ctx, nc, e.Subject(""), req, &rep)
	return rep, err
}

// CallNode asks one gateway node; node must be a valid token. Errors as Call.
func (e Endpoint[Req, Rep]) CallNode(ctx context.Context, nc *nats.Conn, node string, req Req) (Rep, error) {
	var rep Rep
	if !e.PerNode() {
		return rep, fmt.Errorf("%w: %s is a singleton: use Call", ErrEndpointAddress, e)
	}
	if err := ValidateToken(node); err != nil {
		return rep, fmt.Errorf("events: node %q: %w", node, err)
	}
	err := Request(ctx, nc, e.Subject(node), req, &rep)
	return rep, err
}
