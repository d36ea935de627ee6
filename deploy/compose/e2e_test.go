package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// TestComposeE2E is the deployment's proof that it heals: it builds the
// images, starts the whole compose stack under its own project name,
// runs WebSocket clients through the published gateway ports, then kills
// one gateway container, pauses another and stops a NATS node. It checks
// that the clients were rehomed with nothing lost or repeated, that the
// healer's Docker executor restarted both gateway containers, that the
// incidents opened and resolved with their reviews and their summaries
// reached the stand-in Slack and webhook receiver, and that no service
// hit a NATS permission it lacks.
//
// It needs a Docker engine and skips loudly without one; -short or
// WSHEAL_E2E=0 skips it on purpose.
func TestComposeE2E(t *testing.T) {
	if testing.Short() || os.Getenv("WSHEAL_E2E") == "0" {
		t.Skip("SKIP compose e2e: -short or WSHEAL_E2E=0")
	}
	compose := composeCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()

	s := newStack(t, compose)
	t.Log("building the images (make images) and the secrets (make secrets)")
	s.build(ctx)
	s.up(ctx)
	nc := s.operator()
	audit := watchRemediations(t, nc)

	f := newFleet(ctx, t, s.gatewayURLs(), "e2e", 24)
	f.publish(ctx, s.gatewayURLs(), 50*time.Millisecond)
	eventually(t, 30*time.Second, "messages flowing before the faults", func() bool { return f.count() >= 20 })
	t.Logf("subscribers per node before the faults: %v", f.perNode())

	t.Run("gateway killed", func(t *testing.T) {
		faultGateway(ctx, t, s, f, audit, "gw-1", "kill")
	})
	t.Run("gateway paused", func(t *testing.T) {
		faultGateway(ctx, t, s, f, audit, "gw-2", "pause")
	})
	t.Run("nats node stopped", func(t *testing.T) {
		id := s.container(ctx, "nats-3")
		s.docker(ctx, "stop", "-t", "5", id)
		before := f.count()
		eventually(t, 60*time.Second, "messages acknowledged with nats-3 down", func() bool { return f.count() >= before+40 })
		for _, svc := range []string{events.ServiceMonitor, events.ServiceHealer, events.ServiceNotifier} {
			eventually(t, 30*time.Second, svc+" answering with nats-3 down", func() bool {
				return events.Request(ctx, nc, events.ControlSubject(svc, events.VerbStatus), nil, nil) == nil
			})
		}
		s.docker(ctx, "start", id)
	})

	f.stopPublishing()
	t.Run("nothing lost", func(t *testing.T) {
		eventually(t, 90*time.Second, "every subscriber has every acknowledged message", func() bool { return f.missing() == "" })
		f.verify(t)
	})
	var incidents []string
	t.Run("incidents resolved with reviews", func(t *testing.T) {
		incidents = checkIncidents(ctx, t, nc, []string{"gw-1", "gw-2"})
	})
	t.Run("notifications reached the receiver", func(t *testing.T) {
		url := fmt.Sprintf("http://127.0.0.1:%d/received", s.ports["WSHEAL_RECEIVER_PORT"])
		for _, id := range incidents {
			eventually(t, 60*time.Second, "a Slack and a webhook message about "+id, func() bool {
				got := receiverGot(ctx, t, url)
				return got["/slack"][id] && got["/webhook"][id]
			})
		}
	})
	t.Run("dashboard answers", func(t *testing.T) {
		base := fmt.Sprintf("http://127.0.0.1:%d", s.ports["WSHEAL_MONITOR_PORT"])
		paths := []string{"/", "/dash/fleet", "/dash/nodes/gw-1", "/dash/incidents", "/dash/healer"}
		for _, id := range incidents {
			paths = append(paths, "/dash/incidents/"+id)
		}
		token := dashboardToken(t)
		for _, p := range paths {
			if code := httpStatus(ctx, base+p, token); code != http.StatusOK {
				t.Errorf("GET %s: %d", p, code)
			}
		}
	})
	t.Run("no permission violations", func(t *testing.T) {
		if v := s.violations(ctx); len(v) > 0 {
			t.Errorf("NATS refused %d operations, nats/auth.conf lacks a permission or a service oversteps:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
}

// faultGateway kills or pauses a gateway's container and waits until the
// healer restarted it through the Docker API and every subscriber is
// connected again.
func faultGateway(ctx context.Context, t *testing.T, s *stack, f *fleet, audit *remediations, node, how string) {
	id := s.container(ctx, node)
	started := s.inspect(ctx, id, "{{.State.StartedAt}}")
	t.Logf("%s %s: subscribers per node %v", how, node, f.perNode())
	victims := f.on(node)
	s.docker(ctx, how, id)
	eventually(t, 90*time.Second, "the healer restarted "+node, func() bool {
		return audit.succeeded(events.ActionRestart, node)
	})
	eventually(t, 60*time.Second, node+"'s container running again", func() bool {
		st := s.inspect(ctx, id, "{{.State.Status}} {{.State.Paused}} {{.State.StartedAt}}")
		return strings.HasPrefix(st, "running false ") && !strings.HasSuffix(st, " "+started)
	})
	if rc := s.inspect(ctx, id, "{{.RestartCount}}"); rc != "0" {
		t.Errorf("%s restarted by Docker's restart policy (%s times), not by the healer", node, rc)
	}
	eventually(t, 90*time.Second, "every subscriber connected again", func() bool {
		return f.perNode()[""] == 0
	})
	eventually(t, 30*time.Second, fmt.Sprintf("the %d subscribers of %s rehomed", len(victims), node), func() bool {
		return f.rehomed(victims)
	})
	t.Logf("after the %s of %s: subscribers per node %v", how, node, f.perNode())
}

// remediations collects the healer's audit trail as it is published.
type remediations struct {
	mu   sync.Mutex
	seen []events.Remediation
}

func watchRemediations(t *testing.T, nc *nats.Conn) *remediations {
	r := &remediations{}
	sub, err := nc.Subscribe(events.RemediationsAll, func(m *nats.Msg) {
		e, err := events.Decode(m.Data)
		if err != nil {
			t.Errorf("undecodable remediation on %s: %v", m.Subject, err)
			return
		}
		if p, ok := events.As[*events.Remediation](e); ok {
			r.mu.Lock()
			r.seen = append(r.seen, *p)
			r.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

// succeeded reports whether action on target has succeeded.
func (r *remediations) succeeded(action, target string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.seen, func(x events.Remediation) bool {
		return x.Action == action && x.Target == target && x.Phase == events.PhaseSucceeded
	})
}

// checkIncidents waits until the notifier holds resolved incidents
// covering every node, none of them still open, then asks the review of
// each. It returns their ids.
func checkIncidents(ctx context.Context, t *testing.T, nc *nats.Conn, nodes []string) []string {
	var list events.IncidentList
	eventually(t, 2*time.Minute, "incidents for "+strings.Join(nodes, ", ")+" resolved", func() bool {
		list = events.IncidentList{}
		err := events.Request(ctx, nc, events.ControlSubject(events.ServiceNotifier, events.VerbIncidentList),
			&events.IncidentListRequest{Limit: 100}, &list)
		if err != nil {
			t.Logf("incident list: %v", err)
			return false
		}
		covered := map[string]bool{}
		for _, inc := range list.Incidents {
			for _, n := range inc.Nodes {
				if slices.Contains(nodes, n) {
					if inc.State != events.IncidentResolved {
						return false
					}
					covered[n] = true
				}
			}
		}
		return len(covered) == len(nodes)
	})
	var ids []string
	for _, inc := range list.Incidents {
		if !slices.ContainsFunc(inc.Nodes, func(n string) bool { return slices.Contains(nodes, n) }) {
			continue
		}
		ids = append(ids, inc.ID)
		var rev events.Review
		eventually(t, 30*time.Second, "the review of "+inc.ID, func() bool {
			err := events.Request(ctx, nc, events.ControlSubject(events.ServiceNotifier, events.VerbReview),
				&events.IncidentRequest{Incident: inc.ID}, &rev)
			return err == nil && rev.IncidentID == inc.ID
		})
		if rev.Markdown == "" || rev.ResolvedAt.IsZero() {
			t.Errorf("review of %s is empty: %+v", inc.ID, rev)
		}
		t.Logf("incident %s %q on %v: %s, MTTD %d ms, MTTR %d ms, auto-healed %v, %d actions",
			inc.ID, inc.Title, inc.Nodes, inc.State, rev.MTTDMS, rev.MTTRMS, rev.AutoHealed, len(rev.Actions))
	}
	return ids
}

// receiverGot lists what the webhook receiver got: path -> incident ids
// its bodies mention.
func receiverGot(ctx context.Context, t *testing.T, url string) map[string]map[string]bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("receiver: %v", err)
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	var list []struct {
		Path string          `json:"path"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Logf("receiver: %v", err)
		return nil
	}
	out := map[string]map[string]bool{}
	for _, r := range list {
		if out[r.Path] == nil {
			out[r.Path] = map[string]bool{}
		}
		for _, id := range incidentIDs.FindAllString(string(r.Body), -1) {
			out[r.Path][id] = true
		}
	}
	return out
}

// httpStatus is the status code of GET url, 0 if it did not answer.
func httpStatus(ctx context.Context, url, bearer string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// incidentIDs finds incident ids in a notification body.
var incidentIDs = regexp.MustCompile(`inc-[0-9a-f]+`)

// eventually polls cond every 250 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
