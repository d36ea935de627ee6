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

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestComposeE2E is the deployment's proof that it heals: it builds the
// images, starts the whole compose stack under its own project name,
// runs WebSocket clients through the load balancer (HAProxy), then kills
// one gateway container together with one replica each of the monitor,
// the healer and the notifier, brings those replicas back, pauses
// another gateway and stops a NATS node. It checks that the clients were
// rehomed with nothing lost or repeated, that the healer's Docker
// executor restarted both gateway containers, that the incidents opened
// and resolved with their reviews and their summaries reached the
// stand-in Slack and webhook receiver, that with two replicas of each
// control-plane service (one of them dead during the first fault) each of
// these happened exactly once, and that no service hit a NATS permission
// it lacks.
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
	changes := watchIncidents(t, nc)

	f := newFleet(ctx, t, s.entry(), "e2e", 24)
	f.publish(ctx, s.entry(), 50*time.Millisecond)
	eventually(t, 30*time.Second, "messages flowing before the faults", func() bool { return f.count() >= 20 })
	t.Logf("subscribers per node before the faults: %v", f.perNode())

	gws := s.gateways(ctx)
	if len(gws) != 3 {
		t.Fatalf("gateways %v, want the default three replicas", gws)
	}
	gw1, gw2 := gws[0], gws[1]
	t.Logf("gateways: %v", gws)
	// One replica of each control-plane service dies with the gateway;
	// the other replicas detect, restart, open and resolve alone.
	replicas := []string{"monitor", "healer", "notifier"}
	replicaIDs := map[string]string{} // compose v2's ps lists running containers only
	for _, r := range replicas {
		replicaIDs[r] = s.container(ctx, r)
	}
	t.Run("gateway killed with a replica of each control-plane service", func(t *testing.T) {
		faultGateway(ctx, t, s, f, audit, gw1, "kill", replicas...)
	})
	t.Run("killed replicas rejoin", func(t *testing.T) {
		for _, r := range replicas {
			id := replicaIDs[r]
			if st := s.inspect(ctx, id, "{{.State.Status}}"); st != "exited" {
				t.Errorf("%s is %s, not exited: the replica was not down during the fault", r, st)
			}
			s.docker(ctx, "start", id)
			t.Logf("started %s again at %s", r, time.Now().UTC().Format(time.StampMilli))
		}
		for _, r := range replicas {
			id := replicaIDs[r]
			eventually(t, 90*time.Second, r+" healthy again", func() bool {
				return s.inspect(ctx, id, "{{.State.Health.Status}}") == "healthy"
			})
		}
	})
	t.Run("gateway paused", func(t *testing.T) {
		faultGateway(ctx, t, s, f, audit, gw2, "pause")
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
	var paged map[string]bool
	t.Run("incidents resolved with reviews", func(t *testing.T) {
		incidents, paged = checkIncidents(ctx, t, nc, []string{gw1.node, gw2.node})
	})
	t.Run("notifications reached the receiver", func(t *testing.T) {
		url := fmt.Sprintf("http://127.0.0.1:%d/received", s.ports["WSHEAL_RECEIVER_PORT"])
		for _, id := range incidents {
			// The policy: an incident healed without a page is summarised
			// to Slack and the webhook; one paged at once (SEV1: the hung
			// node held half the connections) is triggered and resolved
			// on PagerDuty and Slack instead, and has no summary.
			other := "/webhook"
			if paged[id] {
				other = "/pagerduty"
			}
			eventually(t, 60*time.Second, "a Slack and a "+other+" message about "+id, func() bool {
				got := receiverGot(ctx, t, url)
				return got["/slack"][id] && got[other][id]
			})
		}
	})
	t.Run("each exactly once", func(t *testing.T) {
		for _, node := range []string{gw1.node, gw2.node} {
			n, ok, by := audit.restarts(node)
			if n != 1 || ok != 1 {
				t.Errorf("%s: %d restart decisions, %d succeeded; want exactly one of each", node, n, ok)
			}
			t.Logf("%s restarted by %v", node, by)
			// The first fault was handled while the first replicas were dead.
			if node == gw1.node && !slices.Equal(by, []string{events.Source(events.ServiceHealer, "healer-2")}) {
				t.Errorf("%s's restart published by %v, want healer-2 alone: healer-1 was dead", node, by)
			}
		}
		by := changes.checkOnce(t, incidents, []string{gw1.node, gw2.node})
		if want := []string{events.Source(events.ServiceNotifier, "notifier-2")}; !slices.Equal(by[gw1.node], want) {
			t.Errorf("%s's incident written by %v, want %v alone: notifier-1 was dead", gw1.node, by[gw1.node], want)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/received", s.ports["WSHEAL_RECEIVER_PORT"])
		notificationsOnce(ctx, t, url, incidents)
	})
	t.Run("dashboard answers", func(t *testing.T) {
		paths := []string{"/", "/dash/fleet", "/dash/nodes/" + gw1.node, "/dash/incidents", "/dash/healer"}
		for _, id := range incidents {
			paths = append(paths, "/dash/incidents/"+id)
		}
		token := dashboardToken(t)
		// Both replicas serve it, each on its own host port.
		for _, port := range []string{"WSHEAL_MONITOR_PORT", "WSHEAL_MONITOR2_PORT"} {
			base := fmt.Sprintf("http://127.0.0.1:%d", s.ports[port])
			for _, p := range paths {
				if code := httpStatus(ctx, base+p, token); code != http.StatusOK {
					t.Errorf("GET %s%s (%s): %d", base, p, port, code)
				}
			}
		}
	})
	t.Run("no permission violations", func(t *testing.T) {
		if v := s.violations(ctx); len(v) > 0 {
			t.Errorf("NATS refused %d operations, nats/auth.conf lacks a permission or a service oversteps:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
}

// faultGateway kills or pauses a gateway's container, and kills the
// containers of the services in also right after it; it waits until the
// healer restarted the gateway through the Docker API and every
// subscriber is connected again.
func faultGateway(ctx context.Context, t *testing.T, s *stack, f *fleet, audit *remediations, gw gatewayReplica, how string, also ...string) {
	id, node := gw.id, gw.node
	started := s.inspect(ctx, id, "{{.State.StartedAt}}")
	t.Logf("%s %s: subscribers per node %v", how, node, f.perNode())
	victims := f.on(node)
	if len(also) == 0 {
		s.docker(ctx, how, id)
	} else {
		// One command, the services first: they are down before the
		// node's fault can be noticed.
		args := []string{"kill"}
		for _, svc := range also {
			args = append(args, s.container(ctx, svc))
		}
		if how != "kill" {
			s.docker(ctx, args...)
			args = []string{how}
		}
		s.docker(ctx, append(args, id)...)
		t.Logf("killed %v with the %s of %s at %s", also, how, node, time.Now().UTC().Format(time.StampMilli))
	}
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
	mu      sync.Mutex
	seen    []events.Remediation
	sources []string // seen[i]'s emitter, /wsheal/healer/<instance>
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
			r.sources = append(r.sources, e.Source)
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

// restarts counts the restart decisions about target (distinct decision
// ids, any phase) and those that succeeded, and lists who published
// them. A decision's events republished keep their id: two decisions
// mean two restarts.
func (r *remediations) restarts(target string) (decisions, succeeded int, by []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all, ok := map[string]bool{}, map[string]bool{}
	for i, x := range r.seen {
		if x.Action != events.ActionRestart || x.Target != target {
			continue
		}
		all[x.ID] = true
		if x.Phase == events.PhaseSucceeded {
			ok[x.ID] = true
		}
		if !slices.Contains(by, r.sources[i]) {
			by = append(by, r.sources[i])
		}
	}
	return len(all), len(ok), by
}

// incidentChanges collects the notifier's incident events as published,
// by event id (a republished event counts once).
type incidentChanges struct {
	mu   sync.Mutex
	seen map[string]bool // event ids
	list []incidentChange
}

type incidentChange struct {
	source string
	inc    events.Incident
}

func watchIncidents(t *testing.T, nc *nats.Conn) *incidentChanges {
	c := &incidentChanges{seen: map[string]bool{}}
	sub, err := nc.Subscribe(events.IncidentsAll, func(m *nats.Msg) {
		e, err := events.Decode(m.Data)
		if err != nil {
			t.Errorf("undecodable incident event on %s: %v", m.Subject, err)
			return
		}
		if p, ok := events.As[*events.Incident](e); ok {
			c.mu.Lock()
			if !c.seen[e.ID] {
				c.seen[e.ID] = true
				c.list = append(c.list, incidentChange{source: e.Source, inc: *p})
			}
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkOnce: every node is in exactly one incident, and each of the
// incidents was opened once (one opening time: a second replica opening
// it again would stamp its own) and resolved once (one resolution time),
// whichever notifier replica did it.
//
// It returns, for each node, who opened its incident and who resolved it.
func (c *incidentChanges) checkOnce(t *testing.T, ids, nodes []string) map[string][]string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	by := map[string][]string{}
	for _, node := range nodes {
		in := map[string]bool{}
		for _, ch := range c.list {
			if slices.Contains(ch.inc.Nodes, node) {
				in[ch.inc.ID] = true
			}
		}
		if len(in) != 1 {
			t.Errorf("%s: in %d incidents (%v), want one", node, len(in), in)
		}
		// In the order published: the first event opened it, the first
		// resolved one resolved it.
		opened, resolved := false, false
		for _, ch := range c.list {
			if !in[ch.inc.ID] {
				continue
			}
			var now bool
			if !opened {
				opened, now = true, true
			}
			if !resolved && ch.inc.State == events.IncidentResolved {
				resolved, now = true, true
			}
			if now && !slices.Contains(by[node], ch.source) {
				by[node] = append(by[node], ch.source)
			}
		}
	}
	for _, id := range ids {
		opened, resolved := map[time.Time]string{}, map[time.Time]string{}
		for _, ch := range c.list {
			if ch.inc.ID != id {
				continue
			}
			if _, ok := opened[ch.inc.OpenedAt]; !ok {
				opened[ch.inc.OpenedAt] = ch.source
			}
			if _, ok := resolved[ch.inc.ResolvedAt]; !ok && ch.inc.State == events.IncidentResolved && !ch.inc.ResolvedAt.IsZero() {
				resolved[ch.inc.ResolvedAt] = ch.source
			}
		}
		if len(opened) != 1 || len(resolved) != 1 {
			t.Errorf("incident %s opened %d times (%v) and resolved %d times (%v), want once each", id, len(opened), opened, len(resolved), resolved)
			continue
		}
		for at, by := range opened {
			for rat, rby := range resolved {
				t.Logf("incident %s opened once at %s by %s, resolved once at %s by %s", id, at.Format(time.StampMilli), by, rat.Format(time.StampMilli), rby)
			}
		}
	}
	return by
}

// notificationsOnce: what the stand-in receiver got about the incidents
// was sent once: no webhook message id twice, one webhook message per
// incident, action and level, and no Slack, webhook or PagerDuty body
// twice.
func notificationsOnce(ctx context.Context, t *testing.T, url string, ids []string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("receiver: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var list []struct {
		Path string          `json:"path"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("receiver: %v", err)
	}
	bodies, msgIDs, kinds := map[string]int{}, map[string]int{}, map[string]int{}
	perPath := map[string]int{}
	for _, r := range list {
		mentions := slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(string(r.Body), id) })
		if !mentions {
			continue
		}
		perPath[r.Path]++
		bodies[r.Path+" "+string(r.Body)]++
		if r.Path != "/webhook" {
			continue
		}
		var w struct {
			Message struct {
				ID       string `json:"id"`
				Action   string `json:"action"`
				Level    int    `json:"level"`
				Incident struct {
					ID string `json:"id"`
				} `json:"incident"`
			} `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &w); err != nil || w.Message.ID == "" {
			t.Errorf("webhook body without a message id (%v): %s", err, r.Body)
			continue
		}
		msgIDs[w.Message.ID]++
		kinds[fmt.Sprintf("%s %s level %d", w.Message.Incident.ID, w.Message.Action, w.Message.Level)]++
	}
	t.Logf("notifications about %v per receiver path: %v; webhook messages: %v", ids, perPath, kinds)
	if perPath["/slack"] == 0 {
		t.Errorf("no Slack notification about %v: %v", ids, perPath)
	}
	for b, n := range bodies {
		if n > 1 {
			t.Errorf("sent %d times: %s", n, b)
		}
	}
	for id, n := range msgIDs {
		if n > 1 {
			t.Errorf("webhook message %s delivered %d times", id, n)
		}
	}
	for k, n := range kinds {
		if n > 1 {
			t.Errorf("webhook: %s sent %d times", k, n)
		}
	}
}

// checkIncidents waits until the notifier holds resolved incidents
// covering every node, none of them still open, then asks the review of
// each. It returns their ids.
func checkIncidents(ctx context.Context, t *testing.T, nc *nats.Conn, nodes []string) (ids []string, paged map[string]bool) {
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
	paged = map[string]bool{}
	for _, inc := range list.Incidents {
		if !slices.ContainsFunc(inc.Nodes, func(n string) bool { return slices.Contains(nodes, n) }) {
			continue
		}
		ids = append(ids, inc.ID)
		paged[inc.ID] = inc.Paged
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
	return ids, paged
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

// eventually polls cond every 250 ms (it asks containers and HTTP APIs)
// until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	natstest.Poll(t, timeout, 250*time.Millisecond, cond, func() string { return what })
}
