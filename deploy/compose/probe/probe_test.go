package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestProbe(t *testing.T) {
	s := natstest.Start(t)
	t.Setenv("WSHEAL_HEALER_NATS_URL", s.URL())
	t.Setenv("WSHEAL_NOTIFIER_NATS_URL", s.URL())
	nc := s.Conn() // each Conn call opens a connection of its own
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName(events.ServiceHealer), Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddGroup(events.ControlGroup(events.ServiceHealer)).AddEndpoint(events.VerbStatus,
		micro.HandlerFunc(func(r micro.Request) { events.Respond(r, map[string]string{"state": "active"}) }))
	if err != nil {
		t.Fatal(err)
	}
	// The probe asks on a connection of its own: the endpoint's
	// subscription must have reached the server first, so flush the
	// connection that holds it.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		svc  string
		okay bool
	}{
		{events.ServiceHealer, true},
		{events.ServiceNotifier, false}, // nobody answers
		{"gateway", false},              // not a probed service
	}
	for _, tc := range cases {
		t.Run(tc.svc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := probe(ctx, tc.svc); (err == nil) != tc.okay {
				t.Fatalf("probe %s: %v, want ok=%v", tc.svc, err, tc.okay)
			}
		})
	}
}

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		url  string
		okay bool
	}{
		{srv.URL + "/healthz", true},
		{srv.URL + "/readyz", false},
		{"http://127.0.0.1:1/healthz", false},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := get(ctx, tc.url); (err == nil) != tc.okay {
				t.Fatalf("get %s: %v, want ok=%v", tc.url, err, tc.okay)
			}
		})
	}
}
