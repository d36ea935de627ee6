package service_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// startHealerRecord serves events.CtlHealerRecord with h on a real server
// and returns a client connection.
func startHealerRecord(t *testing.T, c service.Control, h func(context.Context, *events.HealerRecordRequest) (events.HealerRecord, error)) *nats.Conn {
	t.Helper()
	s := natstest.Start(t)
	c.Service = events.ServiceHealer
	ctl, err := service.AddControl(s.Conn(), c, service.Handle(events.CtlHealerRecord, h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Stop() })
	return s.Conn()
}

func codeOf(err error) events.ErrorCode {
	var ce *events.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// TestHandleRoundTrip: the typed client's request reaches the handler
// decoded, with the request's subject and headers, and its reply comes
// back typed; a handler's *Error keeps its code.
func TestHandleRoundTrip(t *testing.T) {
	var subject atomic.Value
	nc := startHealerRecord(t, service.Control{}, func(ctx context.Context, r *events.HealerRecordRequest) (events.HealerRecord, error) {
		subject.Store(service.RequestOf(ctx).Subject)
		if r.Kind == "missing" {
			return events.HealerRecord{}, events.Errorf(events.CodeNotFound, "no record of %s", r.Kind)
		}
		return events.HealerRecord{Records: []events.RemedyRecord{{Kind: r.Kind, Attempts: 3}}}, nil
	})
	ctx := context.Background()
	rep, err := events.CtlHealerRecord.Call(ctx, nc, events.HealerRecordRequest{Kind: "node_down"})
	if err != nil || len(rep.Records) != 1 || rep.Records[0].Kind != "node_down" || rep.Records[0].Attempts != 3 {
		t.Fatalf("reply %+v, %v", rep, err)
	}
	if got := subject.Load(); got != "wsheal.ctl.healer.record" {
		t.Errorf("handler saw subject %v", got)
	}
	if _, err := events.CtlHealerRecord.Call(ctx, nc, events.HealerRecordRequest{Kind: "missing"}); codeOf(err) != events.CodeNotFound {
		t.Errorf("handler error came back as %v", err)
	}
	if _, err := events.CtlHealerStatus.Call(ctx, nc, events.Empty{}); !errors.Is(err, events.ErrNoResponders) {
		t.Errorf("a verb nobody serves: %v", err)
	}
	if _, err := events.CtlGatewayStatus.Call(ctx, nc, events.GatewayStatusRequest{}); !errors.Is(err, events.ErrEndpointAddress) {
		t.Errorf("a gateway verb without a node: %v", err)
	}
	if _, err := events.CtlHealerRecord.CallNode(ctx, nc, "gw-1", events.HealerRecordRequest{}); !errors.Is(err, events.ErrEndpointAddress) {
		t.Errorf("a singleton's verb with a node: %v", err)
	}
}

// TestHandleDecodesStrictly: an unknown field or an invalid request
// answers bad_request and never reaches the handler.
func TestHandleDecodesStrictly(t *testing.T) {
	var calls atomic.Int32
	nc := startHealerRecord(t, service.Control{}, func(context.Context, *events.HealerRecordRequest) (events.HealerRecord, error) {
		calls.Add(1)
		return events.HealerRecord{}, nil
	})
	for name, body := range map[string]string{
		"unknown field": `{"kind":"node_down","knd":"x"}`,
		"invalid kind":  `{"kind":"a b"}`,
		"not json":      `{"kind":`,
	} {
		t.Run(name, func(t *testing.T) {
			msg, err := nc.Request(events.CtlHealerRecord.Subject(""), []byte(body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := events.DecodeReply(msg.Data, nil); codeOf(err) != events.CodeBadRequest {
				t.Errorf("reply %s: %v", msg.Data, err)
			}
			if code := msg.Header.Get("Nats-Service-Error-Code"); code != "400" {
				t.Errorf("error code header %q", code)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times for bad requests", n)
	}
}

// TestHandleRecoversPanic: a panic answers internal, is counted, and the
// endpoint keeps serving.
func TestHandleRecoversPanic(t *testing.T) {
	var panics atomic.Int32
	c := service.Control{Log: zerolog.Nop(), OnPanic: func(verb string) {
		if verb == events.VerbHealerRecord {
			panics.Add(1)
		}
	}}
	nc := startHealerRecord(t, c, func(_ context.Context, r *events.HealerRecordRequest) (events.HealerRecord, error) {
		if r.Kind == "boom" {
			panic("boom")
		}
		return events.HealerRecord{Records: []events.RemedyRecord{}}, nil
	})
	ctx := context.Background()
	_, err := events.CtlHealerRecord.Call(ctx, nc, events.HealerRecordRequest{Kind: "boom"})
	if codeOf(err) != events.CodeInternal || !strings.Contains(err.Error(), "record") {
		t.Fatalf("panic answered %v", err)
	}
	if n := panics.Load(); n != 1 {
		t.Errorf("OnPanic called %d times", n)
	}
	if _, err := events.CtlHealerRecord.Call(ctx, nc, events.HealerRecordRequest{}); err != nil {
		t.Errorf("after a panic: %v", err)
	}
}

// TestHandleTimeout: the handler's context ends after Control.Timeout and
// an error it returns then reaches the caller.
func TestHandleTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	var budget atomic.Int64
	nc := startHealerRecord(t, service.Control{Timeout: timeout}, func(ctx context.Context, _ *events.HealerRecordRequest) (events.HealerRecord, error) {
		deadline, ok := ctx.Deadline()
		if ok {
			budget.Store(int64(time.Until(deadline)))
		}
		<-ctx.Done()
		return events.HealerRecord{}, events.Errorf(events.CodeUnavailable, "%v", ctx.Err())
	})
	_, err := events.CtlHealerRecord.Call(context.Background(), nc, events.HealerRecordRequest{})
	if codeOf(err) != events.CodeUnavailable || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("reply %v", err)
	}
	if b := time.Duration(budget.Load()); b <= 0 || b > timeout {
		t.Errorf("handler deadline %v away, want within %v", b, timeout)
	}
}

// TestAddControlChecksRows: a row of another service, or a gateway
// control without a node, is refused and nothing is served.
func TestAddControlChecksRows(t *testing.T) {
	s := natstest.Start(t)
	status := service.Handle(events.CtlGatewayStatus, func(context.Context, *events.GatewayStatusRequest) (events.GatewayStatus, error) {
		return events.GatewayStatus{Node: "gw-1"}, nil
	})
	record := service.Handle(events.CtlHealerRecord, func(context.Context, *events.HealerRecordRequest) (events.HealerRecord, error) {
		return events.HealerRecord{}, nil
	})
	if _, err := service.AddControl(s.Conn(), service.Control{Service: events.ServiceGateway}, status); err == nil {
		t.Error("gateway control without a node accepted")
	}
	if _, err := service.AddControl(s.Conn(), service.Control{Service: events.ServiceGateway, Node: "gw-1"}, status, record); err == nil {
		t.Fatal("a healer row on a gateway accepted")
	}
	if _, err := events.CtlGatewayStatus.CallNode(context.Background(), s.Conn(), "gw-1", events.GatewayStatusRequest{}); !errors.Is(err, events.ErrNoResponders) {
		t.Errorf("a refused control is serving: %v", err)
	}
}

// TestGatewayRowPerNode: a gateway row answers on its node's subject.
func TestGatewayRowPerNode(t *testing.T) {
	s := natstest.Start(t)
	ctl, err := service.AddControl(s.Conn(), service.Control{Service: events.ServiceGateway, Node: "gw-2"},
		service.Handle(events.CtlGatewayStatus, func(context.Context, *events.GatewayStatusRequest) (events.GatewayStatus, error) {
			return events.GatewayStatus{Node: "gw-2"}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Stop() })
	st, err := events.CtlGatewayStatus.CallNode(context.Background(), s.Conn(), "gw-2", events.GatewayStatusRequest{})
	if err != nil || st.Node != "gw-2" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if _, err := events.CtlGatewayStatus.CallNode(context.Background(), s.Conn(), "gw.2", events.GatewayStatusRequest{}); err == nil {
		t.Error("a node id that is not a token accepted")
	}
}
