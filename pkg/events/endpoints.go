package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Endpoint is one control verb of a service, typed: Req is its request
// (a Command once addressed, *Req implements Command) and Rep its reply.
// The table of every endpoint follows; a service registers
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

// The control endpoints, one value per verb: its service, its verb, its
// request and its reply type. A new verb is one value here, one
// service.Handle row in its service, and its callers' Call.

// Gateway node endpoints (per node: CallNode).
var (
	CtlGatewayStatus    = Endpoint[GatewayStatusRequest, GatewayStatus]{ServiceGateway, VerbStatus}
	CtlGatewayReconnect = Endpoint[ReconnectCommand, ReconnectReply]{ServiceGateway, VerbReconnect}
	CtlGatewayResize    = Endpoint[ResizeCommand, Settings]{ServiceGateway, VerbResize}
	CtlGatewayDrain     = Endpoint[DrainCommand, DrainReply]{ServiceGateway, VerbDrain}
	// CtlGatewayUndrain answers with the node's status after the change.
	CtlGatewayUndrain = Endpoint[UndrainCommand, GatewayStatus]{ServiceGateway, VerbUndrain}
)

// Monitor endpoints.
var (
	CtlMonitorStatus    = Endpoint[FleetStatusRequest, FleetStatus]{ServiceMonitor, VerbStatus}
	CtlMonitorNode      = Endpoint[NodeRequest, NodeDetail]{ServiceMonitor, VerbMonitorNode}
	CtlMonitorAnomalies = Endpoint[AnomaliesRequest, AnomalyList]{ServiceMonitor, VerbMonitorAnomalies}
)

// Healer endpoints.
var (
	CtlHealerStatus   = Endpoint[Empty, HealerStatus]{ServiceHealer, VerbStatus}
	CtlHealerPolicies = Endpoint[Empty, HealerPolicies]{ServiceHealer, VerbHealerPolicies}
	CtlHealerPause    = Endpoint[HealerPauseCommand, HealerSwitches]{ServiceHealer, VerbHealerPause}
	CtlHealerResume   = Endpoint[HealerResumeCommand, HealerSwitches]{ServiceHealer, VerbHealerResume}
	CtlHealerDryRun   = Endpoint[HealerDryRunCommand, HealerSwitches]{ServiceHealer, VerbHealerDryRun}
	CtlHealerHandsOff = Endpoint[HandsOffCommand, HealerSwitches]{ServiceHealer, VerbHealerHandsOff}
	CtlHealerActions  = Endpoint[HealerActionsRequest, HealerActions]{ServiceHealer, VerbHealerActions}
	CtlHealerRecord   = Endpoint[HealerRecordRequest, HealerRecord]{ServiceHealer, VerbHealerRecord}
)

// Notifier endpoints.
var (
	CtlNotifierStatus  = Endpoint[Empty, NotifierStatus]{ServiceNotifier, VerbStatus}
	CtlIncidentList    = Endpoint[IncidentListRequest, IncidentList]{ServiceNotifier, VerbIncidentList}
	CtlIncidentGet     = Endpoint[IncidentRequest, Incident]{ServiceNotifier, VerbIncidentGet}
	CtlIncidentAck     = Endpoint[IncidentCommand, Incident]{ServiceNotifier, VerbAck}
	CtlIncidentResolve = Endpoint[IncidentCommand, Incident]{ServiceNotifier, VerbResolve}
	CtlIncidentNote    = Endpoint[NoteCommand, Incident]{ServiceNotifier, VerbNote}
	CtlSilence         = Endpoint[SilenceCommand, SilenceReply]{ServiceNotifier, VerbSilence}
	CtlIncidentReview  = Endpoint[IncidentRequest, Review]{ServiceNotifier, VerbReview}
)

// Dev supervisor endpoints; status answers as list does.
var (
	CtlDevStatus  = Endpoint[Empty, ProcessList]{ServiceDev, VerbStatus}
	CtlDevList    = Endpoint[Empty, ProcessList]{ServiceDev, VerbList}
	CtlDevRestart = Endpoint[RestartCommand, RestartReply]{ServiceDev, VerbRestart}
	CtlDevNATS    = Endpoint[NATSCommand, NATSReply]{ServiceDev, VerbNATS}
)
