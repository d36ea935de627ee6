package chaos

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/tools/internal/bench"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func ms(v int64) *int64 { return &v }

// sampleReport is a run of two scenarios, one passed and one failed.
func sampleReport() *Report {
	crash := &Result{Name: "crash", Title: "gateway crash", Target: "gw-1", Start: t0, End: t0.Add(40 * time.Second),
		FaultAt: t0.Add(5 * time.Second), DetectMS: ms(2100), RemediateMS: ms(4300), RecoverMS: ms(6100),
		Clients: 300, Sent: 800, Expected: 24000, Delivered: 24000, Incident: "inc-1",
		Review: &ReviewSummary{MTTDMS: 2100, MTTRMS: 9000, AutoHealed: true, Actions: 2},
		Marks:  []Mark{{At: t0.Add(5 * time.Second), Kind: "fault", Label: "kill -9 gw-1 <pid>"}}}
	crash.check("detected", true, "node_down after 2.1s")
	crash.settle()
	hang := &Result{Name: "hang", Title: "gateway hang", Target: "gw-2", Start: t0.Add(41 * time.Second), End: t0.Add(80 * time.Second),
		Lost: 3}
	hang.check("no message lost or duplicated", false, "lost 3 | dup 0")
	hang.settle()
	return &Report{Server: "nats://127.0.0.1:4222", Start: t0, End: t0.Add(80 * time.Second), Clients: 300, Rate: 20,
		Results: []*Result{crash, hang},
		Series: map[string][]Point{
			"gw-1": {{t0, 100}, {t0.Add(time.Second), 100}, {t0.Add(9 * time.Second), 0}, {t0.Add(10 * time.Second), 40}},
			"gw-2": {{t0, 100}, {t0.Add(time.Second), 150}},
		}}
}

func TestSettle(t *testing.T) {
	cases := []struct {
		name   string
		r      Result
		checks []bool
		want   string
	}{
		{"all checks hold", Result{}, []bool{true, true}, StatusPassed},
		{"one check fails", Result{}, []bool{true, false}, StatusFailed},
		{"an error without checks", Result{Reason: "load: refused"}, nil, StatusFailed},
		{"skipped stays skipped", Result{Status: StatusSkipped, Reason: "no cluster"}, []bool{false}, StatusSkipped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			for i, ok := range c.checks {
				r.check("c"+string(rune('0'+i)), ok, "detail")
			}
			r.settle()
			if r.Status != c.want {
				t.Fatalf("status %q, want %q (reason %q)", r.Status, c.want, r.Reason)
			}
			if c.want == StatusFailed && r.Reason == "" {
				t.Fatal("a failure without a reason")
			}
		})
	}
}

func TestMarkdownShowsEveryFigure(t *testing.T) {
	rep := sampleReport()
	md := rep.Markdown()
	for _, want := range []string{
		"2 scenarios: 1 passed, 1 failed, 0 skipped",
		"| crash | passed | gw-1 | 2.1s | 4.3s | 6.1s | 0 | 0 |",
		"| hang | failed | gw-2 | — | — | — | 3 | 0 |",
		"inc-1", "MTTD 2.1s, MTTR 9s, healed without a human true",
		"lost 3 / dup 0", // a | in a detail does not break the table
		"![connections per node](chart.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if rep.Failed() != 1 {
		t.Fatalf("failed %d", rep.Failed())
	}
}

func TestReportJSONShape(t *testing.T) {
	raw, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Scenarios) != 2 {
		t.Fatalf("scenarios %d", len(m.Scenarios))
	}
	for _, k := range []string{"time_to_detect_ms", "time_to_remediate_ms", "time_to_recover_ms", "lost", "duplicated",
		"peak_accept_rate_per_s", "peak_client_reconnects_per_s", "paged", "incident", "review", "checks", "status"} {
		if _, ok := m.Scenarios[0][k]; !ok {
			t.Errorf("scenario JSON lacks %q: %s", k, raw)
		}
	}
	if m.Scenarios[1]["time_to_detect_ms"] != nil {
		t.Errorf("an unseen moment must be null, got %v", m.Scenarios[1]["time_to_detect_ms"])
	}
}

// TestChartIsWellFormedSVG: the chart parses as XML, has one line per
// node (a gap breaks it in two), the markers, and escapes labels.
func TestChartIsWellFormedSVG(t *testing.T) {
	svg := Chart(sampleReport())
	d := xml.NewDecoder(strings.NewReader(svg))
	count := map[string]int{}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			count[se.Name.Local]++
		}
	}
	if count["svg"] != 1 || count["polyline"] != 3 {
		t.Fatalf("elements %v, want 1 svg and 3 polylines (gw-1 broken by its gap)", count)
	}
	for _, want := range []string{"gw-1", "gw-2", "kill -9 gw-1 &lt;pid&gt;", "#d62728", "10:00:"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestWriteCreatesTheThreeFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := sampleReport().Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.json", "chart.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestPeakRate(t *testing.T) {
	snap := func(s float64, n uint64) bench.Snapshot {
		return bench.Snapshot{Time: t0.Add(time.Duration(s * float64(time.Second))), Reconnects: n}
	}
	cases := []struct {
		name string
		ss   []bench.Snapshot
		want float64
	}{
		{"none", nil, 0},
		{"steady", []bench.Snapshot{snap(0, 0), snap(1, 0), snap(2, 0)}, 0},
		{"a burst of 100 within a second", []bench.Snapshot{snap(0, 0), snap(0.5, 0), snap(1, 100), snap(2, 100)}, 100},
		{"spread over 4 s", []bench.Snapshot{snap(0, 0), snap(1, 25), snap(2, 50), snap(3, 75), snap(4, 100)}, 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := peakRate(c.ss); got < c.want*0.99 || got > c.want*1.01+0.001 {
				t.Fatalf("peak %.2f, want %.2f", got, c.want)
			}
		})
	}
}

func TestNiceCeilAndTicks(t *testing.T) {
	for in, want := range map[int]int{1: 1, 3: 5, 7: 10, 101: 200, 350: 500} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", in, got, want)
		}
	}
	if s := tickStep(90 * time.Second); s != 10*time.Second {
		t.Errorf("tick for 90s: %s", s)
	}
	if s := tickStep(15 * time.Minute); s != 2*time.Minute {
		t.Errorf("tick for 15m: %s", s)
	}
}

func TestLookup(t *testing.T) {
	scs, err := Lookup([]string{"hang", "crash"})
	if err != nil || len(scs) != 2 || scs[0].Name != "hang" {
		t.Fatalf("lookup: %v %v", scs, err)
	}
	if _, err := Lookup([]string{"meteor"}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown scenario: %v", err)
	}
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if seen[s.Name] || s.Run == nil || s.Expect == "" {
			t.Errorf("scenario %q duplicated or incomplete", s.Name)
		}
		seen[s.Name] = true
	}
}

func TestRecovery(t *testing.T) {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	snap := func(s float64, live, missing int, reconnects uint64) bench.Snapshot {
		return bench.Snapshot{Time: at(s), Conns: 10, Live: live, Missing: uint64(missing), Reconnects: reconnects}
	}
	cases := []struct {
		name          string
		ss            []bench.Snapshot
		lastBad, back time.Time
	}{
		{"untouched", []bench.Snapshot{snap(0, 10, 0, 0), snap(1, 10, 0, 0), snap(2, 10, 0, 0)}, time.Time{}, time.Time{}},
		{"clients away then back", []bench.Snapshot{snap(0, 10, 0, 0), snap(1, 6, 0, 0), snap(2, 10, 3, 4), snap(3, 10, 0, 4), snap(4, 10, 0, 4)}, at(2), at(3)},
		{"reconnects too fast to see away", []bench.Snapshot{snap(0, 10, 0, 0), snap(1, 10, 0, 10), snap(2, 10, 0, 10)}, at(1), at(2)},
		{"a second dip moves the end", []bench.Snapshot{snap(0, 10, 0, 0), snap(1, 5, 0, 0), snap(2, 10, 0, 5), snap(3, 10, 0, 5), snap(4, 9, 0, 5), snap(5, 10, 0, 6), snap(6, 10, 0, 6)}, at(5), at(6)},
		{"before the fault does not count", []bench.Snapshot{snap(0, 5, 0, 0), snap(0.5, 10, 0, 5), snap(1, 10, 0, 5)}, time.Time{}, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fault := at(0.6)
			if c.name != "before the fault does not count" {
				fault = at(0.5)
			}
			lastBad, back := recovery(c.ss, fault)
			if !lastBad.Equal(c.lastBad) || !back.Equal(c.back) {
				t.Fatalf("last bad %s back %s, want %s %s", lastBad.Format("05.0"), back.Format("05.0"), c.lastBad.Format("05.0"), c.back.Format("05.0"))
			}
		})
	}
}

func TestJoinRate(t *testing.T) {
	pts := []Point{{t0, 10}, {t0.Add(time.Second), 60}, {t0.Add(2 * time.Second), 40}, {t0.Add(2100 * time.Millisecond), 90}, {t0.Add(4 * time.Second), 130}}
	// 50 in 1 s; the 0.1 s step is too short to judge; 40 in 1.9 s.
	if got := joinRate(pts); got != 50 {
		t.Fatalf("join rate %.2f, want 50", got)
	}
	if got := joinRate(nil); got != 0 {
		t.Fatalf("join rate of nothing %.2f", got)
	}
}
