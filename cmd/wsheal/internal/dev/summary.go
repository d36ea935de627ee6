package dev

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

func (s *Supervisor) banner() {
	w := s.out
	fmt.Fprintln(w, "wsheal dev: the whole system on this machine. Ctrl-C stops it.")
	fmt.Fprintln(w)
	urls := s.nats.urls()
	first, _, _ := strings.Cut(urls, ",")
	fmt.Fprintf(w, "  NATS        %s\n", urls)
	if s.nats.size() > 1 {
		fmt.Fprintf(w, "              a %d-node cluster, JetStream replicated; lose one: wsheal dev nats stop n2\n", s.nats.size())
	}
	fmt.Fprintf(w, "              nats sub 'wsheal.evt.>' -s %s\n", first)
	fmt.Fprintf(w, "              nats micro ls -s %s\n", first)
	for _, p := range s.procs {
		pi := p.info()
		switch pi.Service {
		case events.ServiceGateway:
			fmt.Fprintf(w, "  %-11s %s  (pid %d)\n", pi.Name, pi.URL, pi.PID)
		case events.ServiceMonitor:
			fmt.Fprintf(w, "  dashboard   %s  (%s pid %d)\n", pi.URL, pi.Name, pi.PID)
		default:
			if pi.URL != "" {
				fmt.Fprintf(w, "  %-11s %s  (pid %d)\n", pi.Name, pi.URL, pi.PID)
				continue
			}
			fmt.Fprintf(w, "  %-11s pid %d\n", pi.Name, pi.PID)
		}
	}
	_, _, httpURL := s.gatewayURL(0)
	fmt.Fprintf(w, "  discovery   %s/v1/connect\n", httpURL)
	fmt.Fprintf(w, "  example     http://%s/  (a page using wsheal.js: subscribe, publish, connection state)\n", s.example.Addr)
	fmt.Fprintf(w, "  receiver    http://%s/received  (stands in for Slack, PagerDuty, webhooks)\n", s.recv.Addr)
	fmt.Fprintf(w, "  logs        %s\n", logPath(s.cfg.DataDir, "*"))
	fmt.Fprintln(w, "  security    OPEN for local use: no client tokens, any browser origin, no limits per client")
	fmt.Fprintln(w, "              address, /metrics and the dashboard without a token. Do not expose these ports;")
	fmt.Fprintln(w, "              deploy/compose turns auth, origins and tokens on.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  try: kill -9 <a gateway pid>   or   kill -STOP <a gateway pid>   and watch it heal")
	if s.cfg.Faults > 0 {
		fmt.Fprintf(w, "  fault injection on: a random gateway is killed every %s\n", s.cfg.Faults)
	}
	fmt.Fprintln(w)
}

// fleet is the summary's view of the gateways, from heartbeats.
type fleet struct {
	mu    sync.Mutex
	nodes map[string]events.Heartbeat
	seen  map[string]time.Time
}

// summarize prints one line per notable event and a fleet line every 10 s.
func (s *Supervisor) summarize(ctx context.Context) {
	f := &fleet{nodes: map[string]events.Heartbeat{}, seen: map[string]time.Time{}}
	sub, err := s.nc.Subscribe(events.EventsAll, func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if hb, ok := events.As[*events.Heartbeat](ev); ok {
			f.mu.Lock()
			f.nodes[hb.Node], f.seen[hb.Node] = *hb, time.Now()
			f.mu.Unlock()
			return
		}
		if line := describe(ev); line != "" {
			fmt.Fprintf(s.out, "%s  %s\n", ev.Time.Local().Format("15:04:05"), line)
		}
	})
	if err != nil {
		s.log.Error().Err(err).Msg("summary subscription")
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintf(s.out, "%s  fleet  %s\n", time.Now().Format("15:04:05"), f.line())
		}
	}
}

func (f *fleet) line() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.nodes))
	for n := range f.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		hb := f.nodes[n]
		state := ""
		switch {
		case time.Since(f.seen[n]) > 3*time.Duration(hb.IntervalMS)*time.Millisecond:
			state = " (silent)"
		case hb.Draining:
			state = " (draining)"
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d%s", n, hb.Connections, hb.Capacity, state))
	}
	if len(parts) == 0 {
		return "no gateway heartbeats yet"
	}
	return strings.Join(parts, " · ")
}

// describe renders the events a person watching wants to see; "" skips.
func describe(ev *events.Event) string {
	switch p := ev.Payload.(type) {
	case *events.Lifecycle:
		switch p.Phase {
		case events.LifecycleDraining:
			return fmt.Sprintf("gateway  %s draining: %d left, %d moved", p.Node, p.Remaining, p.Moved)
		default:
			return fmt.Sprintf("gateway  %s %s %s", p.Node, p.Phase, p.Reason)
		}
	case *events.Anomaly:
		if p.State == events.AnomalyResolved {
			return fmt.Sprintf("resolved %s on %s", p.Kind, p.Target)
		}
		return fmt.Sprintf("anomaly  %s on %s [%s] %s", p.Kind, p.Target, p.Severity, p.Summary)
	case *events.Remediation:
		if p.Phase == events.PhaseRequested {
			return ""
		}
		line := fmt.Sprintf("healer   %s %s: %s", p.Action, p.Target, p.Phase)
		if p.Reason != "" {
			line += " (" + p.Reason + ")"
		}
		if p.DryRun {
			line += " [dry-run]"
		}
		return line
	case *events.Incident:
		if strings.HasPrefix(p.Change, "remediation_") || p.Change == "anomaly_opened" || p.Change == "notification_sent" {
			return "" // the healer's and monitor's own lines say it
		}
		return fmt.Sprintf("incident %s %s %s (%s): %s", p.ID, p.Severity, p.State, p.Change, p.Title)
	case *events.Notification:
		return fmt.Sprintf("notify   %s %s via %s: %s", p.IncidentID, p.Action, p.Sink, p.Status)
	case *events.Review:
		return fmt.Sprintf("review   %s: MTTD %s, MTTR %s, healed without a human: %v", p.IncidentID,
			time.Duration(p.MTTDMS)*time.Millisecond, time.Duration(p.MTTRMS)*time.Millisecond, p.AutoHealed)
	}
	return ""
}

// injectFaults kills a random running gateway every period, for a demo
// that shows healing without anyone typing kill.
func (s *Supervisor) injectFaults(ctx context.Context) {
	t := time.NewTicker(s.cfg.Faults)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var alive []*proc
		for _, p := range s.procs {
			if p.spec.Service == events.ServiceGateway && p.info().Running {
				alive = append(alive, p)
			}
		}
		if len(alive) < 2 {
			continue
		}
		p := alive[rand.IntN(len(alive))]
		fmt.Fprintf(s.out, "%s  fault    kill -9 %s (pid %d)\n", time.Now().Format("15:04:05"), p.spec.Name, p.info().PID)
		p.kill()
	}
}
