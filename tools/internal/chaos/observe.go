package chaos

import (
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// Seen is one event as the observer received it.
type Seen struct {
	At      time.Time // when it arrived here
	Subject string
	Ev      *events.Event
}

// Point is one sample of a gateway's connections, from its heartbeat.
type Point struct {
	T     time.Time
	Conns int
}

// Observer records everything on wsheal.evt.> for the whole run: the
// events scenarios look for, and each gateway's connections over time for
// the chart. It reads nothing else: no logs, no files.
type Observer struct {
	sub *nats.Subscription

	mu       sync.Mutex
	evs      []Seen
	beats    map[string]events.Heartbeat
	beatAt   map[string]time.Time
	series   map[string][]Point
	services map[string]time.Time // "<service>/<instance>" -> last heartbeat
}

// Observe subscribes to every event.
func Observe(nc *nats.Conn) (*Observer, error) {
	o := &Observer{beats: map[string]events.Heartbeat{}, beatAt: map[string]time.Time{},
		series: map[string][]Point{}, services: map[string]time.Time{}}
	sub, err := nc.Subscribe(events.EventsAll, o.on)
	if err != nil {
		return nil, err
	}
	sub.SetPendingLimits(-1, -1)
	o.sub = sub
	return o, nc.Flush()
}

// Close ends the subscription.
func (o *Observer) Close() { _ = o.sub.Unsubscribe() }

func (o *Observer) on(m *nats.Msg) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch p := ev.Payload.(type) {
	case *events.Heartbeat:
		o.beats[p.Node], o.beatAt[p.Node] = *p, now
		o.series[p.Node] = append(o.series[p.Node], Point{T: now, Conns: p.Connections})
		return
	case *events.ServiceHeartbeat:
		o.services[p.Service+"/"+p.Instance] = now
		return
	}
	o.evs = append(o.evs, Seen{At: now, Subject: m.Subject, Ev: ev})
}

// Gateway is a node as its heartbeats show it.
type Gateway struct {
	events.Heartbeat
	LastBeat time.Time
}

// Fresh reports whether the node beat within three of its intervals.
func (g Gateway) Fresh(now time.Time) bool {
	return now.Sub(g.LastBeat) <= 3*time.Duration(max(g.IntervalMS, 100))*time.Millisecond
}

// Gateways are every node that ever beat, by name.
func (o *Observer) Gateways() []Gateway {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Gateway, 0, len(o.beats))
	for n, hb := range o.beats {
		out = append(out, Gateway{Heartbeat: hb, LastBeat: o.beatAt[n]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Gateway returns one node's latest heartbeat.
func (o *Observer) Gateway(node string) (Gateway, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	hb, ok := o.beats[node]
	return Gateway{Heartbeat: hb, LastBeat: o.beatAt[node]}, ok
}

// Services returns the last heartbeat time of each control-plane instance.
func (o *Observer) Services() map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]time.Time, len(o.services))
	for k, v := range o.services {
		out[k] = v
	}
	return out
}

// Series returns each node's connection samples within [from, to].
func (o *Observer) Series(from, to time.Time) map[string][]Point {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]Point{}
	for n, pts := range o.series {
		for _, p := range pts {
			if !p.T.Before(from) && !p.T.After(to) {
				out[n] = append(out[n], p)
			}
		}
	}
	return out
}

// Since returns the events received at or after t that match keep.
func (o *Observer) Since(t time.Time, keep func(Seen) bool) []Seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := sort.Search(len(o.evs), func(i int) bool { return !o.evs[i].At.Before(t) })
	var out []Seen
	for _, s := range o.evs[i:] {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// First returns the first event at or after t that matches keep.
func (o *Observer) First(t time.Time, keep func(Seen) bool) (Seen, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := sort.Search(len(o.evs), func(i int) bool { return !o.evs[i].At.Before(t) })
	for _, s := range o.evs[i:] {
		if keep(s) {
			return s, true
		}
	}
	return Seen{}, false
}

// payload is the typed payload of a Seen event, or nil.
func payload[T events.Payload](s Seen) T {
	p, _ := events.As[T](s.Ev)
	return p
}
