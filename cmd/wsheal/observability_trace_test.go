package main

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// span is one span an OTLP exporter sent, flattened.
type span struct {
	trace, id, parent string
	service, name     string
	kind              tracepb.Span_SpanKind
	attrs             map[string]string
}

func (s span) String() string {
	return fmt.Sprintf("%s/%s %q (%s) parent %s %v", s.service, s.id, s.name, s.kind, s.parent, s.attrs)
}

// otlpReceiver is an OTLP/HTTP trace endpoint (POST /v1/traces, protobuf),
// as a collector serves it.
type otlpReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	spans    []span
	bad      []string
	requests int
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.export))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) export(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		r.fail(fmt.Sprintf("%s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type")))
		http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, 32<<20))
	var msg coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &msg)
	}
	if err != nil {
		r.fail(err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg)
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *otlpReceiver) fail(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, why)
}

func (r *otlpReceiver) add(msg *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range msg.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, kv := range s.GetAttributes() {
					attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
				}
				r.spans = append(r.spans, span{trace: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()),
					parent: hex.EncodeToString(s.GetParentSpanId()), service: service, name: s.GetName(), kind: s.GetKind(), attrs: attrs})
			}
		}
	}
}

func (r *otlpReceiver) snapshot() ([]span, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.spans...), append([]string(nil), r.bad...)
}

// healTrace is the trace of one healed anomaly, as the test expects it.
type healTrace struct {
	anomaly, publish, decide, request, serve, verified, notifyAnomaly, notifyVerified span
}

// findHealTrace looks among spans for the whole chain of the node_down
// anomaly of node, and says what is missing if it is not complete.
func findHealTrace(spans []span, node string) (healTrace, string) {
	var h healTrace
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.id] = s
	}
	for _, s := range spans {
		if s.service == "wsheal-monitor" && s.name == "anomaly open node_down" && s.attrs["wsheal.anomaly.target"] == node {
			h.anomaly = s
		}
	}
	if h.anomaly.id == "" {
		return h, "no monitor span of the node_down anomaly; spans seen: " + summary(spans)
	}
	child := func(parent span, service string, ok func(span) bool) span {
		for _, s := range spans {
			if s.trace == h.anomaly.trace && s.parent == parent.id && s.service == service && ok(s) {
				return s
			}
		}
		return span{}
	}
	named := func(prefix string) func(span) bool {
		return func(s span) bool { return strings.HasPrefix(s.name, prefix) }
	}
	if h.publish = child(h.anomaly, "wsheal-monitor", named("publish "+events.TypeAnomaly)); h.publish.id == "" {
		return h, "no publish span under the anomaly span"
	}
	if h.notifyAnomaly = child(h.publish, "wsheal-notifier", named("process notifier-anomalies")); h.notifyAnomaly.id == "" {
		return h, "no notifier span under the anomaly's publish span"
	}
	// Every delivery of the anomaly to the healer is a decide span; the
	// restart and the verification may come from different deliveries.
	for _, s := range spans {
		if s.trace != h.anomaly.trace || s.service != "wsheal-healer" || s.parent == "" {
			continue
		}
		parent := byID[s.parent]
		// A decide span: the healer's work consumer handling a delivery of
		// the anomaly (service.Work's "process <durable>").
		decide := parent.service == "wsheal-healer" && parent.kind == tracepb.Span_SPAN_KIND_CONSUMER &&
			strings.HasPrefix(parent.name, "process ") && parent.parent == h.publish.id
		switch {
		case s.name == "request "+events.ControlSubject(events.ServiceDev, events.VerbRestart) && decide:
			if srv := child(s, "wsheal-dev", named("dev "+events.VerbRestart)); srv.id != "" {
				h.decide, h.request, h.serve = parent, s, srv
			}
		case strings.HasPrefix(s.name, "publish "+events.TypeRemediation) && s.attrs["wsheal.remediation.phase"] == events.PhaseSucceeded &&
			s.attrs["wsheal.remediation.action"] == events.ActionRestart && s.attrs["wsheal.remediation.target"] == node && decide:
			h.verified = s
			h.notifyVerified = child(s, "wsheal-notifier", named("process notifier-remediations"))
		}
	}
	switch {
	case h.request.id == "":
		return h, "no restart request from a decide span answered by the dev supervisor's span"
	case h.decide.parent != h.publish.id:
		return h, "the decide span is not the child of the anomaly's publish span"
	case h.verified.id == "":
		return h, "no verified (succeeded) restart of " + node + " published from a decide span"
	case h.notifyVerified.id == "":
		return h, "no notifier span under the succeeded remediation"
	}
	return h, ""
}

// TestTraceFollowsAHealedCrash: with an OTLP endpoint configured, a
// `wsheal dev` stack exports the healing of a killed gateway as one
// trace: the monitor's anomaly, the healer's decision, the restart
// request and the supervisor's handling of it, the verified outcome, and
// the notifier's handling of the anomaly and of the outcome, each span the
// child of the one before across processes.
func TestTraceFollowsAHealedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	recv := startOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	t.Setenv("OTEL_SERVICE_NAME", "") // each process names itself wsheal-<service>
	ds := startDev(t, "--demo-clients", "0", "--quiet")
	nc, err := nats.Connect(ds.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	var gw2 events.Process
	natstest.Eventually(t, 30*time.Second, func() bool {
		var list events.ProcessList
		_ = events.Request(context.Background(), nc, events.ControlSubject(events.ServiceDev, events.VerbList), nil, &list)
		for _, p := range list.Processes {
			if p.Name == "gw-2" && p.Running && p.PID != 0 {
				gw2 = p
			}
		}
		return gw2.PID != 0
	}, "gw-2 never ran")
	// The monitor must know the three nodes healthy before one dies, and
	// the healer and the notifier must be up.
	natstest.Eventually(t, 60*time.Second, func() bool {
		var st events.FleetStatus
		err := events.Request(context.Background(), nc, events.ControlSubject(events.ServiceMonitor, events.VerbStatus), &events.FleetStatusRequest{}, &st)
		return err == nil && st.ByState[events.NodeHealthy] == 3 &&
			events.Request(context.Background(), nc, events.ControlSubject(events.ServiceHealer, events.VerbStatus), nil, nil) == nil &&
			events.Request(context.Background(), nc, events.ControlSubject(events.ServiceNotifier, events.VerbStatus), nil, nil) == nil
	}, "the monitor never saw three healthy nodes, or the healer or notifier did not answer")
	if err := syscall.Kill(gw2.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var h healTrace
	var missing string
	natstest.Eventually(t, 150*time.Second, func() bool {
		spans, _ := recv.snapshot()
		h, missing = findHealTrace(spans, "gw-2")
		if missing == "" {
			return true
		}
		recv.mu.Lock()
		missing += fmt.Sprintf(" (%d exports, refused: %q)", recv.requests, recv.bad)
		recv.mu.Unlock()
		return false
	}, "the healing of gw-2 did not make one trace: %s\n%s", lazy(func() string { return missing }), ds.Out)
	spans, bad := recv.snapshot()
	if len(bad) > 0 {
		t.Errorf("exporters sent what an OTLP/HTTP receiver refuses: %v", bad)
	}
	for _, s := range []span{h.anomaly, h.publish, h.decide, h.request, h.serve, h.verified, h.notifyAnomaly, h.notifyVerified} {
		t.Logf("%s", s)
	}
	kinds := map[string]tracepb.Span_SpanKind{"publish": tracepb.Span_SPAN_KIND_PRODUCER, "decide": tracepb.Span_SPAN_KIND_CONSUMER,
		"request": tracepb.Span_SPAN_KIND_CLIENT, "serve": tracepb.Span_SPAN_KIND_SERVER, "notify": tracepb.Span_SPAN_KIND_CONSUMER}
	for name, s := range map[string]span{"publish": h.publish, "decide": h.decide, "request": h.request, "serve": h.serve, "notify": h.notifyVerified} {
		if s.kind != kinds[name] {
			t.Errorf("%s span kind %s, want %s", name, s.kind, kinds[name])
		}
	}
	inTrace := 0
	for _, s := range spans {
		if s.trace == h.anomaly.trace {
			inTrace++
		}
	}
	t.Logf("%d spans exported, %d in the trace of the healed crash", len(spans), inTrace)
	checkGatewayJoinsATrace(t, nc, recv)

	// Any command the healer sent a gateway in this trace (a follow-up
	// rebalance) was answered inside it: the node's server span is the
	// child of the request span.
	for _, req := range spans {
		if req.trace != h.anomaly.trace || req.service != "wsheal-healer" || !strings.HasPrefix(req.name, "request wsheal.ctl.gw.") {
			continue
		}
		served := false
		for _, s := range spans {
			if s.parent == req.id && s.service == "wsheal-gateway" && s.kind == tracepb.Span_SPAN_KIND_SERVER {
				served = true
				t.Logf("gateway command: %s -> %s", req.name, s.name)
			}
		}
		if !served {
			t.Errorf("%s has no gateway server span under it", req)
		}
	}
}

// lazy is a message part computed when it is printed.
type lazy func() string

func (l lazy) String() string { return l() }

// summary counts spans by service and name.
func summary(spans []span) string {
	n := map[string]int{}
	for _, s := range spans {
		n[s.service+" "+s.name]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %4d %s", n[k], k)
	}
	return b.String()
}

// checkGatewayJoinsATrace sends a gateway node a control request inside a
// span of this process: the node's server span, exported by the gateway
// process, is the child of the request span.
func checkGatewayJoinsATrace(t *testing.T, nc *nats.Conn, recv *otlpReceiver) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tracing.Install()
	defer func() {
		events.SetTracer(nil)
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	}()
	ctx, end := events.StartSpan(context.Background(), "operator asks gw-1")
	err := events.Request(ctx, nc, events.GatewayControlSubject("gw-1", events.VerbStatus), nil, nil)
	end(err)
	if err != nil {
		t.Fatalf("gw-1 status: %v", err)
	}
	var reqID string
	for _, s := range rec.Ended() {
		if s.Name() == "request "+events.GatewayControlSubject("gw-1", events.VerbStatus) {
			reqID = s.SpanContext().SpanID().String()
		}
	}
	if reqID == "" {
		t.Fatal("no request span recorded here")
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		spans, _ := recv.snapshot()
		for _, s := range spans {
			if s.service == "wsheal-gateway" && s.parent == reqID && s.name == "gateway "+events.VerbStatus && s.kind == tracepb.Span_SPAN_KIND_SERVER {
				return true
			}
		}
		return false
	}, "gw-1 exported no server span under the request span %s", reqID)
}
