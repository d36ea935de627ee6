package detect

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

func dp(vals []float64, set func(*events.DataPlane, float64)) []Sample {
	return gen(vals, func(h *events.Health, v float64) { set(&h.DataPlane, v) })
}

func TestDataPlaneNodeDetectors(t *testing.T) {
	cfg, h := DefaultDataPlane(), DefaultHysteresis()
	cases := []struct {
		name string
		det  NodeDetector
		set  func(*events.DataPlane, float64)
		vals []float64
		want string
	}{
		{"subscribe errors fire and clear", NewDataPlaneErrors(cfg, h), func(d *events.DataPlane, v float64) { d.Subscribes, d.SubscribeErrors = 100, int(v) },
			join(repeat(0, 2), repeat(50, 3), repeat(1, 3)), "open@4 clear@7"},
		{"publish errors count too", NewDataPlaneErrors(cfg, h), func(d *events.DataPlane, v float64) { d.Publishes, d.PublishErrors = 100, int(v) },
			repeat(30, 3), "open@2"},
		{"a few errors are no spike", NewDataPlaneErrors(cfg, h), func(d *events.DataPlane, v float64) { d.Subscribes, d.SubscribeErrors = 4, int(v) },
			repeat(4, 5), ""},
		{"hovering errors hold", NewDataPlaneErrors(cfg, h), func(d *events.DataPlane, v float64) { d.Subscribes, d.SubscribeErrors = 100, int(v) },
			alternate(25, 10, 8), ""},
		{"not recovered rises", NewNotRecovered(cfg, h), func(d *events.DataPlane, v float64) { d.Resumes, d.NotRecovered = 20, int(v) },
			join(repeat(0, 3), repeat(15, 3), repeat(0, 3)), "open@5 clear@8"},
		{"few resumes lost", NewNotRecovered(cfg, h), func(d *events.DataPlane, v float64) { d.Resumes, d.NotRecovered = 4, int(v) },
			repeat(4, 5), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ts []Transition
			for _, s := range dp(tc.vals, tc.set) {
				if tr := tc.det.Observe(s, nil); tr != nil {
					ts = append(ts, *tr)
				}
			}
			if got := trace(ts); got != tc.want {
				t.Fatalf("trace %q, want %q", got, tc.want)
			}
			if len(ts) > 0 && (ts[0].Target != "n1" || ts[0].Evidence.Metric == "" || ts[0].Summary == "") {
				t.Fatalf("transition %+v", ts[0])
			}
		})
	}
}

func round(nodes map[string]events.DataPlane) []Sample {
	var out []Sample
	for id, d := range nodes {
		out = append(out, Sample{At: t0, Health: events.Health{Node: id, IntervalMS: 5000, DataPlane: d}})
	}
	return out
}

func TestLimitUsage(t *testing.T) {
	store := round(map[string]events.DataPlane{
		"a": {StoreUsed: 50, StoreLimit: 100, StreamBytes: 95, StreamMaxBytes: 100},
		"b": {StoreUsed: 50, StoreLimit: 100, StreamBytes: 95, StreamMaxBytes: 100},
		"c": {StoreUsed: 10, StoreLimit: 0},
	})
	u := StoreUsage(store)
	if u.Metric != "stream_bytes_over_limit" || u.Value != 0.95 || len(u.Nodes) != 2 || u.Nodes[0] != "a" {
		t.Fatalf("store usage %+v", u)
	}
	lim := LimitUsage(round(map[string]events.DataPlane{
		"a": {Consumers: 10, ConsumerLimit: 100, Channels: 990, ChannelLimit: 1000},
		"b": {Consumers: 10, ConsumerLimit: 100, Channels: 5, ChannelLimit: 1000},
	}))
	if lim.Metric != "channels_over_limit" || lim.Value != 0.99 || len(lim.Nodes) != 1 || lim.Nodes[0] != "a" {
		t.Fatalf("limit usage %+v", lim)
	}
	if u := LimitUsage(round(map[string]events.DataPlane{"a": {Consumers: 5}})); u.Value != 0 {
		t.Fatalf("no limit known, usage %+v", u)
	}
}

func TestStoreFullFiresAndClears(t *testing.T) {
	d := NewStoreFull(DefaultDataPlane(), DefaultHysteresis())
	fill := []uint64{50, 92, 95, 99, 99, 85, 70, 70, 70}
	var ts []Transition
	for i, used := range fill {
		snaps := round(map[string]events.DataPlane{"a": {StoreUsed: used, StoreLimit: 100}})
		if tr := d.Observe(at(i), snaps); tr != nil {
			ts = append(ts, *tr)
		}
	}
	if got := trace(ts); got != "open@3 clear@8" {
		t.Fatalf("trace %q", got)
	}
	if o := ts[0]; o.Target != events.FleetTarget || o.Severity != events.SeverityCritical || o.Evidence.Metric != "store_used_over_limit" {
		t.Fatalf("open %+v", o)
	}
}
