package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/pkg/events"
)

// TestWshealRunsTheTools: the production binary's `bench` and `chaos`
// run wsheal-tools found beside it, with every argument, the NATS flags
// given before the command's name among them; a bench against a live
// `wsheal dev` holds its connections and loses nothing.
func TestWshealRunsTheTools(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and starts real processes")
	}
	wsheal, err := devtest.Build() // wsheal-tools beside it
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, wsheal, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("wsheal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Run("chaos list", func(t *testing.T) {
		out := run(t, "chaos", "--list")
		for _, want := range []string{"SCENARIO", "crash", "hang"} {
			if !strings.Contains(out, want) {
				t.Fatalf("wsheal chaos --list lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("bench against dev", func(t *testing.T) {
		ds := devtest.Start(t, "--demo-clients", "0", "--quiet")
		out := run(t, "-s", ds.NATSURL, "bench", "--url", gatewayURLs(t, ds.NATSURL),
			"--clients", "20", "--rate", "20", "--duration", "2s", "--drain", "3s")
		for _, want := range []string{"connections held", "lost                       0"} {
			if !strings.Contains(out, want) {
				t.Fatalf("wsheal bench lacks %q:\n%s", want, out)
			}
		}
	})
}

// gatewayURLs lists the dev stack's gateway WebSocket URLs,
// comma-separated, as its supervisor reports them.
func gatewayURLs(t *testing.T, natsURL string) string {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var list events.ProcessList
	if err := events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbList), nil, &list); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, p := range list.Processes {
		if p.Service == events.ServiceGateway {
			urls = append(urls, p.URL)
		}
	}
	return strings.Join(urls, ",")
}
