package suite

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRSS(t *testing.T) {
	cases := []struct {
		name   string
		status string
		want   int64
		err    error
	}{
		{"linux", "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n", 12345 << 10, nil},
		{"missing", "Name:\tx\nThreads:\t4\n", 0, ErrNoRSS},
		{"malformed", "VmRSS:\t12 MB\n", 0, ErrNoRSS},
		{"not a number", "VmRSS:\tx kB\n", 0, ErrNoRSS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRSS([]byte(tc.status))
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("parseRSS = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRSSOfThisProcess(t *testing.T) {
	n, err := RSS(os.Getpid())
	if err != nil || n <= 0 {
		t.Fatalf("RSS = %d, %v", n, err)
	}
	if _, err := RSS(-1); err == nil {
		t.Fatal("RSS of no process answered")
	}
}

func TestMedianAndRatio(t *testing.T) {
	cases := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"odd", []float64{5, 1, 3}, 3},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Median(tc.xs); got != tc.want {
				t.Fatalf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
		})
	}
	xs := []float64{3, 1, 2}
	Median(xs)
	if xs[0] != 3 {
		t.Error("Median sorted its argument")
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(Ratio(1, 0)) || !math.IsNaN(Ratio(math.NaN(), 1)) {
		t.Error("missing values must give NaN")
	}
	if Ratio(3, 2) != 1.5 {
		t.Error("Ratio(3, 2) != 1.5")
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	cases := []struct {
		q    float64
		want float64 // ms
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}}
	for _, tc := range cases {
		got := Quantile(h.Counts(), tc.q)
		// Buckets are 1/16 of a power of two wide: a lower bound within 7%.
		if got > tc.want || got < tc.want*0.93 {
			t.Errorf("q%.3f = %.1f ms, want about %.0f", tc.q, got, tc.want)
		}
	}
	h.Reset()
	if !math.IsNaN(Quantile(h.Counts(), 0.5)) {
		t.Error("empty histogram has a quantile")
	}
	for us := uint64(0); us < 1<<30; us = us*3/2 + 1 {
		if v := bucketValue(bucketOf(us)); v > us {
			t.Fatalf("bucket of %d starts at %d", us, v)
		}
	}
}

func TestPayloadStamp(t *testing.T) {
	now := time.Now()
	p := Payload(now)
	if len(p) != payloadSize || p[0] != '"' || p[len(p)-1] != '"' {
		t.Fatalf("payload %q", p)
	}
	cases := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"wsheal", append(append([]byte(`{"op":"msg","channel":"a","seq":7,"data":`), p...), '}'), true},
		{"reply", []byte(`{"op":"reply","id":1,"channel":"a","seq":7}`), false},
		{"not a stamp", []byte(`{"op":"msg","channel":"a","seq":7,"data":"abc"}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := wshealStamp(tc.frame)
			if ok != tc.ok || (ok && st != now.UnixNano()) {
				t.Fatalf("wshealStamp = %d, %v", st, ok)
			}
		})
	}
}

// TestNATSParserSplitFrames feeds a NATS stream cut at every byte.
func TestNATSParserSplitFrames(t *testing.T) {
	p1, p2 := Payload(time.Unix(0, 1000000000000000001)), Payload(time.Unix(0, 1000000000000000002))
	stream := "INFO {\"x\":1}\r\n+OK\r\nPING\r\nMSG wschan.a 1 64\r\n" + string(p1) +
		"\r\nPONG\r\nMSG wschan.a 1 _INBOX.r 64\r\n" + string(p2) + "\r\n-ERR 'x'\r\n"
	want := []natsEvent{natsInfo, natsPing, natsMsg, natsPong, natsMsg, natsErr}
	for cut := 1; cut < len(stream); cut += 7 {
		var p natsParser
		var got []natsEvent
		var stamps []int64
		for i := 0; i < len(stream); i += cut {
			p.feed([]byte(stream[i:min(i+cut, len(stream))]))
			for {
				ev, st, ok := p.next()
				if ev == natsNone {
					break
				}
				got = append(got, ev)
				if ok {
					stamps = append(stamps, st)
				}
			}
		}
		if len(got) != len(want) || len(stamps) != 2 || stamps[1] != 1000000000000000002 {
			t.Fatalf("cut %d: events %v stamps %v", cut, got, stamps)
		}
	}
}

func TestMarkdownAndGoals(t *testing.T) {
	r := &Results{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Rounds: 3, Machine: Machine{CPU: "cpu", Cores: 2}}
	mem := r.figure("idle memory", "KiB", goalMem...)
	fan := r.figure("fan-out", "msgs/s", goalFan...)
	cpu := r.figure("fan-out per CPU", "msgs/CPU-s", goalFanCPU...)
	unjudged := r.figure("p99", "ms", Goal{Ref: ProtoCentrifugo, Max: 0.5})
	for i, v := range []float64{14, 15, 16} {
		mem.add(ProtoWsheal, v)
		mem.add(ProtoGws, 10+float64(i))
		fan.add(ProtoWsheal, 900)
		fan.add(ProtoGws, 1000)
		fan.add(ProtoNATS, 500)
		cpu.add(ProtoWsheal, 900)
		cpu.add(ProtoFloor, 1000)
		unjudged.add(ProtoWsheal, 1)
	}
	r.finish()
	if cpu.RatioFloor != 0.9 || !*cpu.Met {
		t.Errorf("per CPU: ratio to the floor %v met %v (Centrifugo left out: its goal not judged)", cpu.RatioFloor, *cpu.Met)
	}
	if unjudged.Met != nil {
		t.Errorf("a goal against a reference left out was judged: %v", *unjudged.Met)
	}
	if mem.RatioGws != 15.0/11 || *mem.Met {
		t.Errorf("memory: ratio %v met %v", mem.RatioGws, *mem.Met)
	}
	if fan.RatioGws != 0.9 || fan.RatioNATS != 1.8 || !*fan.Met {
		t.Errorf("fan-out: ratios %v %v met %v", fan.RatioGws, fan.RatioNATS, *fan.Met)
	}
	md := r.Markdown()
	for _, want := range []string{"| idle memory (KiB) | 15.0 | 11.0 | – | – | – | 1.36× | – | – | – | ≤ 1.3× raw gws | **no** |",
		"| fan-out (msgs/s) | 900.0 | 1000 | 500.0 | – | – | 0.90× | 1.80× | – | – | ≥ 0.8× raw gws, ≥ 1.5× NATS ws | yes |",
		"| fan-out per CPU (msgs/CPU-s) | 900.0 | – | – | – | 1000 | – | – | – | 0.90× | ≥ 0.8× floor, ≥ 5.0× Centrifugo | yes |",
		"| p99 (ms) | 1.00 | – | – | – | – | – | – | – | – | ≤ 0.5× Centrifugo |  |",
		"2026-01-02 03:04 UTC", "cpu, 2 cores"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if got := jsonSafe(r).Figures[0].RatioNATS; got != -1 {
		t.Errorf("NaN ratio in JSON = %v, want -1", got)
	}
}

func TestMetricValue(t *testing.T) {
	text := "# HELP x\nwsheal_gateway_connections 42\nwsheal_gateway_connections_opened_total 7\n"
	cases := []struct {
		name string
		want float64
		ok   bool
	}{
		{"wsheal_gateway_connections", 42, true},
		{"wsheal_gateway_connections_opened_total", 7, true},
		{"absent", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := metricValue(strings.NewReader(text), tc.name)
			if (err == nil) != tc.ok || v != tc.want {
				t.Fatalf("metricValue = %v, %v", v, err)
			}
		})
	}
}

func FuzzNATSParser(f *testing.F) {
	f.Add([]byte("INFO {}\r\nMSG a 1 3\r\nabc\r\nPING\r\n"))
	f.Add([]byte("MSG a 1 99999999\r\n"))
	f.Add([]byte("MSG\r\nMSG a b x\r\n"))
	f.Add([]byte("MSG a 1 -5\r\nxx\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p natsParser
		p.feed(b)
		for range len(b) + 1 {
			if ev, _, _ := p.next(); ev == natsNone {
				return
			}
		}
		t.Fatal("parser did not consume its input")
	})
}

func FuzzStamp(f *testing.F) {
	f.Add([]byte(`{"op":"msg","data":"1234567890123456789-x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, ok := wshealStamp(b); ok && st < 0 {
			t.Fatalf("negative stamp %d", st)
		}
	})
}

// TestSaveCarriesNoNaN: a round that measured nothing (NaN, as a server
// that delivered nothing in no CPU time) is saved as -1, and the Markdown
// shows it missing; saving never fails for it.
func TestSaveCarriesNoNaN(t *testing.T) {
	r := &Results{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Rounds: 1}
	f := r.figure("fan-out per CPU", "msgs/CPU-s", goalFanCPU...)
	f.add(ProtoWsheal, 900)
	f.add(ProtoNATS, math.NaN())
	f.add(ProtoFloor, math.Inf(1))
	r.finish()
	dir := t.TempDir()
	if _, err := r.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"nats": [`) || !strings.Contains(string(b), "-1") {
		t.Fatalf("latest.json:\n%s", b)
	}
}

// TestFleetHome places exactly the victims on node 0, spread evenly, and
// the rest round robin over the other nodes.
func TestFleetHome(t *testing.T) {
	const n, victims, nodes = 1000, 170, 7
	count := make([]int, nodes)
	run := 0 // longest run of consecutive victims
	for g, cur := 0, 0; g < n; g++ {
		h := fleetHome(g, n, victims, nodes)
		count[h]++
		if h == 0 {
			cur++
			run = max(run, cur)
		} else {
			cur = 0
		}
	}
	if count[0] != victims || run > 1 {
		t.Errorf("node 0: %d clients (want %d), longest run %d", count[0], victims, run)
	}
	for i := 1; i < nodes; i++ {
		if want := (n - victims) / (nodes - 1); count[i] < want || count[i] > want+1 {
			t.Errorf("node %d: %d clients, want %d or %d", i, count[i], want, want+1)
		}
	}
}
