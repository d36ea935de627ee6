package fleetview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// Node is what is known of one gateway node, from its registry entry or
// its heartbeat, whichever was heard last.
type Node struct {
	ID string
	// URL is the public WebSocket URL; InternalURL the base URL inside the
	// deployment, when it differs.
	URL, InternalURL string
	Connections      int
	Capacity         int // max connections in force
	Draining         bool
	Version          string
	StartedAt        time.Time
	// Boot is the process id drawn by the node at start: heartbeats carry
	// it, registry entries do not, so it is kept across the entries of the
	// same process (same StartedAt).
	Boot string
	// Interval is the node's heartbeat interval (0: not said).
	Interval time.Duration
	// Heard is the node's last sign of life: when its heartbeat arrived,
	// or when its registry entry was written.
	Heard time.Time
}

// StaleAfter is the silence after which the node is stale
// (events.StaleAfter of its interval).
func (n Node) StaleAfter() time.Duration { return events.StaleAfter(n.Interval) }

// Fresh reports whether the node was heard within StaleAfter of now.
func (n Node) Fresh(now time.Time) bool { return now.Sub(n.Heard) <= n.StaleAfter() }

// Registration is the node as a registry entry, written at Heard.
func (n Node) Registration() events.Registration {
	return events.Registration{Node: n.ID, URL: n.URL, InternalURL: n.InternalURL, Connections: n.Connections,
		Capacity: n.Capacity, Draining: n.Draining, Version: n.Version, StartedAt: n.StartedAt,
		UpdatedAt: n.Heard, HeartbeatMS: n.Interval.Milliseconds()}
}

// FromRegistration is the node a registry entry describes, heard when it
// was written: its UpdatedAt (the node's clock), or written, the server's
// time of the write, when that is earlier or UpdatedAt is missing.
func FromRegistration(r events.Registration, written time.Time) Node {
	heard := r.UpdatedAt
	if heard.IsZero() || !written.IsZero() && written.Before(heard) {
		heard = written
	}
	return Node{ID: r.Node, URL: r.URL, InternalURL: r.InternalURL, Connections: r.Connections, Capacity: r.Capacity,
		Draining: r.Draining, Version: r.Version, StartedAt: r.StartedAt,
		Interval: time.Duration(r.HeartbeatMS) * time.Millisecond, Heard: heard}
}

// FromHeartbeat is the node a heartbeat describes, heard at heard.
func FromHeartbeat(hb *events.Heartbeat, heard time.Time) Node {
	return Node{ID: hb.Node, URL: hb.URL, InternalURL: hb.InternalURL, Connections: hb.Connections, Capacity: hb.Capacity,
		Draining: hb.Draining, Version: hb.Version, StartedAt: hb.StartedAt, Boot: hb.Boot,
		Interval: time.Duration(hb.IntervalMS) * time.Millisecond, Heard: heard}
}

// Decode reads the registry entry stored under key: a valid registration
// (events.DecodeRegistration) of the node named key, whose URLs hosts
// allows. Errors wrap events.ErrRegistration.
func Decode(key string, value []byte, hosts events.Hosts) (events.Registration, error) {
	r, err := events.DecodeRegistration(value)
	if err == nil && r.Node != key {
		err = fmt.Errorf("%w: node %q under key %q", events.ErrRegistration, r.Node, key)
	}
	if err == nil {
		err = r.CheckURLs(hosts)
	}
	if err != nil {
		return events.Registration{}, err
	}
	return r, nil
}

// DecodeHeartbeat reads a heartbeat received on subject: believed only on
// its own node's subject (NATS permissions let a gateway publish there
// alone) and with URLs hosts allows.
func DecodeHeartbeat(subject string, b []byte, hosts events.Hosts) (*events.Heartbeat, error) {
	ev, err := events.Decode(b)
	if err != nil {
		return nil, err
	}
	hb, ok := events.As[*events.Heartbeat](ev)
	if !ok {
		return nil, fmt.Errorf("fleetview: %s is not a heartbeat", ev.Type)
	}
	if events.ValidateToken(hb.Node) != nil || events.HeartbeatSubject(hb.Node) != subject {
		return nil, fmt.Errorf("fleetview: heartbeat of %q on %s, another node's subject", hb.Node, subject)
	}
	if err := (events.Registration{Node: hb.Node, URL: hb.URL, InternalURL: hb.InternalURL}).CheckURLs(hosts); err != nil {
		return nil, err
	}
	return hb, nil
}

// Entry is one key of the registry as List read it: the node, or Err
// when the entry failed its checks (then Node holds the key's ID alone).
type Entry struct {
	Node Node
	Err  error
}

// List reads every entry of the registry once, sorted by node id: a
// key that is not a valid node id is skipped, an entry that fails Decode
// is listed with its error. For a reader that needs the fleet at one
// moment (the monitor's start); a View follows it.
func List(ctx context.Context, kv jetstream.KeyValue, hosts events.Hosts) ([]Entry, error) {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("fleetview: list %s: %w", kv.Bucket(), err)
	}
	var out []Entry
	for key := range lister.Keys() {
		if events.ValidateToken(key) != nil {
			continue
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted since it was listed
		}
		var r events.Registration
		if err == nil {
			r, err = Decode(key, e.Value(), hosts)
		}
		if err != nil {
			out = append(out, Entry{Node: Node{ID: key}, Err: err})
			continue
		}
		out = append(out, Entry{Node: FromRegistration(r, e.Created())})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Node.ID, b.Node.ID) })
	return out, nil
}
