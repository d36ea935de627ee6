package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

// eventFilter selects events by kind, node and severity.
type eventFilter struct {
	kinds, nodes []string
	severity     string
	heartbeats   bool
}

func eventsCmd() *cobra.Command {
	var (
		f       eventFilter
		asJSON  bool
		subject string
	)
	cmd := &cobra.Command{
		Use:     "events",
		GroupID: "ops",
		Short:   "Tail wsheal.evt.> one readable line per event",
		Long: `Tail every wsheal event, one readable line per event. Heartbeats are hidden
unless --heartbeats. Filters combine: an event is shown when it matches every
filter given. The same stream is there for the nats CLI:

  nats sub 'wsheal.evt.>'`,
		Example: `  wsheal events
  wsheal events --kind node_down,node_hung --severity error
  wsheal events --node gw-2 --heartbeats
  wsheal events --json | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			out := cmd.OutOrStdout()
			msgs := make(chan *nats.Msg, 4096)
			sub, err := nc.ChanSubscribe(subject, msgs)
			if err != nil {
				return err
			}
			defer func() { _ = sub.Unsubscribe() }()
			fmt.Fprintf(cmd.ErrOrStderr(), "listening on %s at %s (Ctrl-C to stop)\n", subject, nc.ConnectedUrlRedacted())
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case m := <-msgs:
					printEvent(out, m, f, asJSON)
				}
			}
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.kinds, "kind", nil, "only these kinds (anomaly kinds, remediation actions, or event names such as heartbeat, health, incident)")
	fl.StringSliceVar(&f.nodes, "node", nil, "only events about these nodes")
	fl.StringVar(&f.severity, "severity", "", "only anomalies at least this severe: info, warning, error, critical")
	fl.BoolVar(&f.heartbeats, "heartbeats", false, "show heartbeats too")
	fl.BoolVar(&asJSON, "json", false, "print each event's raw JSON")
	fl.StringVar(&subject, "subject", events.EventsAll, "subject to tail")
	return cmd
}

func printEvent(w io.Writer, m *nats.Msg, f eventFilter, asJSON bool) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		fmt.Fprintf(w, "%s  %-12s %s: undecodable event: %v\n", time.Now().Format("15:04:05.000"), "?", m.Subject, err)
		return
	}
	line := eventLine(ev)
	if !f.match(ev, line) {
		return
	}
	if asJSON {
		fmt.Fprintln(w, string(m.Data))
		return
	}
	fmt.Fprintf(w, "%s  %s\n", ev.Time.Local().Format("15:04:05.000"), line.text)
}

// line is an event's readable form and what filters look at.
type line struct {
	name, kind, node, severity, text string
}

func eventLine(ev *events.Event) line {
	name := ev.Type[strings.LastIndexByte(ev.Type, '.')+1:]
	l := line{name: name, kind: name}
	switch p := ev.Payload.(type) {
	case *events.Heartbeat:
		l.node = p.Node
		l.text = fmt.Sprintf("heartbeat   %-8s conns %d/%d draining=%v seq %d", p.Node, p.Connections, p.Capacity, p.Draining, p.Seq)
	case *events.Health:
		l.node = p.Node
		l.text = fmt.Sprintf("health      %-8s conns %d rtt p99 %.1fms stale %d evicted %d slow %d backlog %d in/out %d/%d rejected %d",
			p.Node, p.Connections, p.RTT.P99, p.Stale, p.Evicted, p.SlowConsumers, p.SendBacklog, p.MsgsIn, p.MsgsOut, p.Rejected)
	case *events.ConnEvent:
		l.node, l.kind = p.Node, p.Kind
		l.text = fmt.Sprintf("conn        %-8s %s %s %s", p.Node, p.Kind, p.ConnID, p.Detail)
		if p.Suppressed > 0 {
			l.text += fmt.Sprintf(" (+%d suppressed)", p.Suppressed)
		}
	case *events.Lifecycle:
		l.node, l.kind = p.Node, p.Phase
		l.text = fmt.Sprintf("lifecycle   %-8s %s remaining %d moved %d %s", p.Node, p.Phase, p.Remaining, p.Moved, p.Reason)
	case *events.ServiceHeartbeat:
		l.node = p.Instance
		l.text = fmt.Sprintf("service     %-8s %s %s", p.Instance, p.Service, p.State)
	case *events.Anomaly:
		l.node, l.kind, l.severity = p.Target, p.Kind, p.Severity
		l.text = fmt.Sprintf("anomaly     %-8s %s %s [%s] impact %d conns (%.0f%%) %s", p.Target, p.Kind, p.State, p.Severity,
			p.Impact.Connections, 100*p.Impact.Share, p.Summary)
	case *events.Remediation:
		l.node, l.kind = p.Target, p.Action
		l.text = fmt.Sprintf("remediation %-8s %s %s attempt %d %s %s", p.Target, p.Action, p.Phase, p.Attempt, p.Reason, p.Detail)
		if p.DryRun {
			l.text += " [dry-run]"
		}
	case *events.Incident:
		l.kind = p.State
		l.node = strings.Join(p.Nodes, ",")
		l.text = fmt.Sprintf("incident    %s %s %s %s", p.ID, p.Severity, p.State, p.Title)
	case *events.Notification:
		l.kind = p.Action
		l.text = fmt.Sprintf("notify      %s %s via %s: %s attempts %d %s", p.IncidentID, p.Action, p.Sink, p.Status, p.Attempts, p.Error)
	case *events.Review:
		l.text = fmt.Sprintf("review      %s MTTD %s MTTR %s auto-healed %v", p.IncidentID,
			time.Duration(p.MTTDMS)*time.Millisecond, time.Duration(p.MTTRMS)*time.Millisecond, p.AutoHealed)
	default:
		b, _ := json.Marshal(ev.Payload)
		l.text = name + " " + string(b)
	}
	return l
}

func (f eventFilter) match(ev *events.Event, l line) bool {
	if l.name == "heartbeat" && !f.heartbeats {
		return false
	}
	if len(f.kinds) > 0 && !contains(f.kinds, l.kind) && !contains(f.kinds, l.name) {
		return false
	}
	if len(f.nodes) > 0 {
		ok := false
		for _, n := range strings.Split(l.node, ",") {
			ok = ok || contains(f.nodes, n)
		}
		if !ok {
			return false
		}
	}
	if f.severity != "" && events.SeverityRank(l.severity) < events.SeverityRank(f.severity) {
		return false
	}
	return true
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
