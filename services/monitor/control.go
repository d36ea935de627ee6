package monitor

import (
	"context"
	"net/url"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor/fleet"
)

// FleetStatus is the fleet table, filtered by state when state is not
// empty. It serves the status verb, the JSON API and the dashboard.
func (s *Service) FleetStatus(state string) events.FleetStatus {
	open := s.openAnomalies("", "")
	perNode := map[string]int{}
	for _, a := range open {
		for _, n := range a.Nodes {
			perNode[n]++
		}
	}
	st := events.FleetStatus{
		Instance:      s.instance,
		At:            time.Now().UTC(),
		Panic:         s.panicking.Load(),
		Connected:     s.connected.Load(),
		Nodes:         []events.NodeStatus{},
		ByState:       map[string]int{},
		OpenAnomalies: len(open),
	}
	for _, n := range s.view.Nodes() {
		row := nodeStatus(n, perNode[n.ID])
		st.ByState[row.State]++
		if n.Active() {
			st.Connections += row.Connections
			st.Capacity += row.Capacity
		}
		if state == "" || row.State == state {
			st.Nodes = append(st.Nodes, row)
		}
	}
	return st
}

// ScrapeTarget is one group of Prometheus's HTTP service discovery
// (http_sd_configs): where to scrape and the labels to add.
type ScrapeTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// ScrapeTargets are the gateways of the fleet view with a probe URL, one
// group per node labelled with its id, so that Prometheus scrapes a scaled
// fleet (whose node ids are known only once they start) and names each
// series' node as the events do. A stopped node drops out; a dead one
// stays until it leaves the registry, so that its `up` reads 0.
func (s *Service) ScrapeTargets() []ScrapeTarget {
	out := []ScrapeTarget{}
	for _, n := range s.view.Nodes() {
		u, err := url.Parse(n.ProbeURL)
		if n.Stopped || err != nil || u.Host == "" {
			continue
		}
		labels := map[string]string{"node": n.ID}
		if u.Scheme == "https" {
			labels["__scheme__"] = "https"
		}
		out = append(out, ScrapeTarget{Targets: []string{u.Host}, Labels: labels})
	}
	return out
}

func nodeStatus(n fleet.Node, open int) events.NodeStatus {
	row := events.NodeStatus{
		Node: n.ID, URL: n.URL, State: n.State, Since: n.Since.UTC(), Reason: n.Reason,
		Connections: n.Connections(), Capacity: n.Capacity(), Draining: n.Draining,
		LastHeartbeat: n.HeartbeatAt, Version: n.Version, OpenAnomalies: open,
	}
	if n.Health != nil {
		row.RTTP99, row.Stale = n.Health.RTT.P99, n.Health.Stale
	}
	return row
}

// NodeDetail is one node's detail with at most history state changes
// (0: all kept).
func (s *Service) NodeDetail(node string, history int) (events.NodeDetail, error) {
	n, ok := s.view.Get(node)
	if !ok {
		return events.NodeDetail{}, events.Errorf(events.CodeNotFound, "node %q is not in the fleet view", node)
	}
	open := s.openAnomalies("", node)
	d := events.NodeDetail{
		Status:     nodeStatus(n, len(open)),
		Heartbeat:  n.Heartbeat,
		Health:     n.Health,
		HealthAt:   n.HealthAt,
		History:    n.History,
		Anomalies:  open,
		Quarantine: n.Quarantine,
	}
	if history > 0 && len(d.History) > history {
		d.History = d.History[len(d.History)-history:]
	}
	if d.History == nil {
		d.History = []events.StateChange{}
	}
	return d, nil
}

// Anomalies lists the open anomalies, filtered by kind and target (a
// target also matches the nodes of a fleet anomaly).
func (s *Service) Anomalies(kind, target string) events.AnomalyList {
	return events.AnomalyList{Anomalies: s.openAnomalies(kind, target), Correlation: s.correlation()}
}

// Pending counts the anomaly writes (claims, events, key deletions) not
// done yet, for instance while NATS is unreachable.
func (s *Service) Pending() int {
	if s.ledger == nil {
		return 0
	}
	return s.ledger.Pending()
}

func (s *Service) openAnomalies(kind, target string) []events.Anomaly {
	if s.ledger == nil {
		return []events.Anomaly{}
	}
	return s.ledger.List(kind, target)
}

// control registers the wsheal-monitor micro service and its verbs.
func (s *Service) control() (*service.Controls, error) {
	return service.AddControl(s.nc, service.Control{
		Service:     events.ServiceMonitor,
		Description: "wsheal fleet view and anomaly detection",
		Metadata:    map[string]string{"instance": s.instance},
		Log:         s.log,
	},
		service.Handle(events.CtlMonitorStatus, s.handleStatus),
		service.Handle(events.CtlMonitorNode, s.handleNode),
		service.Handle(events.CtlMonitorAnomalies, s.handleAnomalies),
	)
}

func (s *Service) handleStatus(_ context.Context, r *events.FleetStatusRequest) (events.FleetStatus, error) {
	return s.FleetStatus(r.State), nil
}

func (s *Service) handleNode(_ context.Context, r *events.NodeRequest) (events.NodeDetail, error) {
	return s.NodeDetail(r.Node, r.History)
}

func (s *Service) handleAnomalies(_ context.Context, r *events.AnomaliesRequest) (events.AnomalyList, error) {
	return s.Anomalies(r.Kind, r.Target), nil
}
