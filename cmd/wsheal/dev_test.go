package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/webclient"
)

// devStack is a `wsheal dev` process started by a test; run and mustRun
// (cli_test.go) drive the CLI against it in process.
type devStack struct{ *devtest.Stack }

func startDev(t *testing.T, args ...string) *devStack {
	t.Helper()
	return &devStack{devtest.Start(t, args...)}
}

// discover does what `nats micro ls` does: ping every micro service.
func discover(t *testing.T, nc *nats.Conn) map[string]int {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$SRV.PING", inbox, nil); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for {
		m, err := sub.NextMsg(500 * time.Millisecond)
		if err != nil {
			return got
		}
		var p micro.Ping
		if json.Unmarshal(m.Data, &p) == nil {
			got[p.Name]++
		}
	}
}

func TestDevStartsTheStackAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ds := startDev(t, "--demo-clients", "0", "--quiet")
	nc, err := nats.Connect(ds.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Services are discoverable as `nats micro ls` would list them.
	want := map[string]int{events.ServiceName("gateway"): 3, events.ServiceName("dev"): 1}
	for _, s := range controlPlane() {
		want[events.ServiceName(s)] = 1
	}
	var got map[string]int
	natstest.Eventually(t, 30*time.Second, func() bool {
		got = discover(t, nc)
		for name, n := range want {
			if got[name] != n {
				return false
			}
		}
		return true
	}, "services %v, want %v", got, want)

	// The example page is served and loads wsheal.js from a gateway, which
	// serves it to other origins.
	checkExamplePage(t, ds.Out.String())

	// Heartbeats flow on wsheal.evt.> from every gateway and service.
	sub, err := nc.SubscribeSync(events.EventsAll)
	if err != nil {
		t.Fatal(err)
	}
	beats := map[string]bool{}
	natstest.Eventually(t, 10*time.Second, func() bool {
		m, err := sub.NextMsg(100 * time.Millisecond)
		if err != nil {
			return false
		}
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Fatalf("undecodable event on %s: %v", m.Subject, err)
		}
		switch p := ev.Payload.(type) {
		case *events.Heartbeat:
			beats[p.Node] = true
		case *events.ServiceHeartbeat:
			beats[p.Service] = true
		}
		return len(beats) >= 3+len(controlPlane())
	}, "heartbeats from %v", beats)

	// The supervisor restarts a killed gateway on request, and only then.
	var list events.ProcessList
	if err := events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbList), nil, &list); err != nil {
		t.Fatal(err)
	}
	var gw2 events.Process
	for _, p := range list.Processes {
		if p.Name == "gw-2" {
			gw2 = p
		}
	}
	if !gw2.Running || gw2.PID == 0 {
		t.Fatalf("gw-2 not running: %+v", list)
	}
	if err := syscall.Kill(gw2.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		var l events.ProcessList
		_ = events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbList), nil, &l)
		for _, p := range l.Processes {
			if p.Name == "gw-2" {
				return !p.Running && strings.Contains(p.Exit, "killed")
			}
		}
		return false
	}, "gw-2 not seen dead")
	var rep events.RestartReply
	cmd := events.RestartCommand{ID: "t-restart-1", Node: "gw-2"}
	if err := events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbRestart), cmd, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Process.Running || rep.Process.PID == gw2.PID {
		t.Fatalf("restart reply %+v", rep)
	}
	var again events.RestartReply
	if err := events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbRestart), cmd, &again); err != nil {
		t.Fatal(err)
	}
	if again.Process.PID != rep.Process.PID {
		t.Fatalf("the same restart id restarted twice: %d then %d", rep.Process.PID, again.Process.PID)
	}
	err = events.Request(context.Background(), nc, events.ControlSubject("dev", events.VerbRestart), map[string]string{"id": "x", "node": "nope"}, nil)
	if ce, ok := err.(*events.Error); !ok || ce.Code != events.CodeNotFound {
		t.Fatalf("restart of an unknown node: %v", err)
	}

	// Ctrl-C stops every process within a few seconds.
	start := time.Now()
	if err := ds.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ds.Done:
		if err != nil {
			t.Fatalf("wsheal dev exit: %v\n%s", err, ds.Out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("wsheal dev still running 20s after SIGINT\n%s", ds.Out)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	for _, p := range list.Processes {
		if p.PID != 0 && syscall.Kill(p.PID, 0) == nil && p.PID != gw2.PID {
			t.Errorf("child %s (pid %d) survived", p.Name, p.PID)
		}
	}
	if rep.Process.PID != 0 && syscall.Kill(rep.Process.PID, 0) == nil {
		t.Errorf("restarted gw-2 (pid %d) survived", rep.Process.PID)
	}
}

var exampleLine = regexp.MustCompile(`example\s+(http://\S+)`)

// checkExamplePage fetches the example page the banner names and the
// module it imports, as a browser on the page's origin would.
func checkExamplePage(t *testing.T, banner string) {
	t.Helper()
	m := exampleLine.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("the banner names no example page:\n%s", banner)
	}
	body := httpGet(t, m[1], "")
	mod := regexp.MustCompile(`from "(http://[^"]+/wsheal\.js)"`).FindStringSubmatch(body)
	if mod == nil || !strings.Contains(mod[1], webclient.VersionedPathJS) {
		t.Fatalf("example page imports no versioned wsheal.js:\n%s", body)
	}
	origin := strings.TrimSuffix(m[1], "/")
	if js := httpGet(t, strings.ReplaceAll(mod[1], `\/`, "/"), origin); js != string(webclient.JS) {
		t.Fatalf("the gateway served another module (%d bytes)", len(js))
	}
}

// httpGet fetches url with an Origin (if any) and checks the CORS answer.
func httpGet(t *testing.T, url, origin string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || (origin != "" && resp.Header.Get("Access-Control-Allow-Origin") == "") {
		t.Fatalf("GET %s: %d, CORS %q", url, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	return string(b)
}
