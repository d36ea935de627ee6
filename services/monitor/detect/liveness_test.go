package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// script drives a Liveness: every step is 250 ms; "b" is a beat of n1
// (interval 1 s) at that step, "." nothing, "S" a clean stop, "R" a beat
// of a restarted process. It renders what Check and Beat reported.
func script(t *testing.T, l *Liveness, steps string) string {
	t.Helper()
	var out []string
	started := t0
	for i, c := range steps {
		now := t0.Add(time.Duration(i) * 250 * time.Millisecond)
		switch c {
		case 'R':
			started = now
			fallthrough
		case 'b':
			if l.Beat(Beat{Node: "n1", At: now, Heard: now, Interval: time.Second, StartedAt: started}) {
				out = append(out, fmt.Sprintf("alive@%d", i))
			}
		case 'S':
			l.Stop("n1")
		}
		for _, lp := range l.Check(now) {
			out = append(out, lp.Pulse.String())
		}
	}
	return strings.Join(out, " ")
}

func TestLiveness(t *testing.T) {
	cases := []struct{ name, steps, want string }{
		{"steady beats", "b...b...b...b...b...b...", ""},
		{"one late beat is nothing", "b...b.....b...b...b...", ""},
		{"two missed beats: suspect, back after 3", "b...b.........b...b...b...", "suspect alive@22"},
		{"three missed: silent, back after 3", "b...b.............b...b...b...", "suspect silent alive@26"},
		{"killed: silent once", "b...b...b...........................", "suspect silent"},
		{"clean stop is not missed", "b...b...bS..........................", ""},
		{"late beat of the stopping process ignored", "b...b...S.b.........................", ""},
		{"restart after a stop", "b...S.............R...b...b.....", ""},
		{"beats hovering at the suspect threshold do not toggle", "b........b........b........b........b........b", "suspect"},
		{"beats just inside the threshold are fine", "b.......b.......b.......b.......b.......b", ""},
		{"recovery broken by a new gap", "b............b...b.........b...b...b...", "suspect silent alive@35"},
		{"a new process is alive at once", "b...b.............R...b...b...", "suspect silent alive@18"},
		{"a replacement that dies again lapses again", "b...b.............R...b.............", "suspect silent alive@18 suspect silent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := NewLiveness(DefaultLiveness())
			if got := script(t, l, c.steps); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLivenessLapse(t *testing.T) {
	l := NewLiveness(DefaultLiveness())
	l.Beat(Beat{Node: "n1", At: t0.Add(-time.Hour), Heard: t0, Interval: time.Second})
	l.Check(t0.Add(2 * time.Second))
	lps := l.Check(t0.Add(3 * time.Second))
	if len(lps) != 1 || lps[0].Pulse != Silent {
		t.Fatalf("lapses %+v", lps)
	}
	// The window and impact start come from the event time (the same in
	// every replica), not from this monitor's clock.
	if want := t0.Add(-time.Hour); !lps[0].Last.Equal(want) || !lps[0].Start.Equal(want.Add(time.Second)) {
		t.Fatalf("last %v start %v", lps[0].Last, lps[0].Start)
	}
}

func TestLivenessBlindAndSeed(t *testing.T) {
	l := NewLiveness(DefaultLiveness())
	l.Beat(Beat{Node: "n1", At: t0, Heard: t0, Interval: time.Second})
	l.Blind(t0.Add(10 * time.Second))
	if lps := l.Check(t0.Add(11 * time.Second)); len(lps) != 0 {
		t.Fatalf("gap measured across the blind spot: %+v", lps)
	}
	l.Seed("n2", t0)
	if p, _ := l.Pulse("n2"); p != Silent {
		t.Fatalf("seeded pulse %v", p)
	}
	for i := range 3 {
		now := t0.Add(time.Duration(i) * time.Second)
		if rec := l.Beat(Beat{Node: "n2", At: now, Heard: now, Interval: time.Second}); rec != (i == 2) {
			t.Fatalf("beat %d recovered=%v", i, rec)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		probe Probe
		want  string
	}{
		{Probe{Accepts: true}, events.KindNodeHung},
		{Probe{Accepts: true, HTTPOK: true}, events.KindNodeHung},
		{Probe{Accepts: false, Detail: "connection refused"}, events.KindNodeDown},
	}
	for _, c := range cases {
		t.Run(c.want+"/"+c.probe.Detail, func(t *testing.T) {
			if got := Classify(c.probe); got != c.want {
				t.Fatalf("got %s", got)
			}
		})
	}
}

func TestPanic(t *testing.T) {
	type check struct {
		silent, fleet int
		connected     bool
	}
	cases := []struct {
		name   string
		checks []check
		want   string
	}{
		{"one node of ten", []check{{1, 10, true}, {1, 10, true}}, ""},
		{"most of the fleet", []check{{6, 10, true}}, "fire"},
		{"half is not most", []check{{5, 10, true}}, ""},
		{"small fleet never panics", []check{{2, 2, true}}, ""},
		{"lost NATS", []check{{0, 10, false}}, "fire"},
		{"clears after three good", []check{{8, 10, true}, {0, 10, true}, {0, 10, true}, {0, 10, true}}, "fire clear"},
		{"hover holds", []check{{8, 10, true}, {4, 10, true}, {0, 10, true}, {4, 10, true}, {0, 10, true}, {0, 10, true}}, "fire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPanic(DefaultPanic())
			var got []string
			for _, ch := range c.checks {
				fired, cleared := p.Observe(t0, ch.silent, ch.fleet, ch.connected)
				if fired {
					got = append(got, "fire")
				}
				if cleared {
					got = append(got, "clear")
				}
			}
			if s := strings.Join(got, " "); s != c.want {
				t.Fatalf("got %q, want %q", s, c.want)
			}
		})
	}
}
