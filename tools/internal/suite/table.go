package suite

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Goal is what a figure's ratio to a reference must reach.
type Goal struct {
	Ref string  `json:"ref"` // a reference of Servers
	Max float64 `json:"max,omitempty"`
	Min float64 `json:"min,omitempty"`
}

// Met reports whether ratio satisfies the goal (false when unknown).
func (g Goal) Met(ratio float64) bool {
	if math.IsNaN(ratio) {
		return false
	}
	if g.Max > 0 && ratio > g.Max {
		return false
	}
	return g.Min <= 0 || ratio >= g.Min
}

// String is the goal as the table shows it.
func (g Goal) String() string {
	name := serverNames[g.Ref]
	if g.Max > 0 {
		return fmt.Sprintf("≤ %.1f× %s", g.Max, name)
	}
	return fmt.Sprintf("≥ %.1f× %s", g.Min, name)
}

// Figure is one row: per server, one value per round.
type Figure struct {
	Name   string               `json:"name"`
	Unit   string               `json:"unit"`
	Values map[string][]float64 `json:"values"`
	Median map[string]float64   `json:"median"`
	// RatioGws, RatioNATS, RatioCentrifugo and RatioFloor are wsheal's
	// median over each reference's.
	RatioGws        float64 `json:"ratio_gws"`
	RatioNATS       float64 `json:"ratio_nats"`
	RatioCentrifugo float64 `json:"ratio_centrifugo"`
	RatioFloor      float64 `json:"ratio_floor"`
	Goals           []Goal  `json:"goals,omitempty"`
	Met             *bool   `json:"met,omitempty"`
}

// serverNames are the table's names of the servers.
var serverNames = map[string]string{ProtoWsheal: "wsheal", ProtoGws: "raw gws", ProtoNATS: "NATS ws",
	ProtoCentrifugo: "Centrifugo", ProtoFloor: "floor"}

// ratioTo is wsheal's median over ref's.
func (f *Figure) ratioTo(ref string) float64 {
	switch ref {
	case ProtoGws:
		return f.RatioGws
	case ProtoNATS:
		return f.RatioNATS
	case ProtoCentrifugo:
		return f.RatioCentrifugo
	case ProtoFloor:
		return f.RatioFloor
	}
	return math.NaN()
}

// Healing is the result of the healing run.
type Healing struct {
	Clients        int     `json:"clients"`
	Nodes          int     `json:"nodes"`
	KilledConns    int     `json:"killed_node_connections"`
	AllBackMS      float64 `json:"all_back_ms"`              // kill to survivors holding every client again
	ReconnectMaxMS float64 `json:"time_to_reconnect_max_ms"` // client view, slowest client
	ReconnectP50MS float64 `json:"time_to_reconnect_p50_ms"`
	Reconnects     uint64  `json:"reconnects"`
	Delivered      uint64  `json:"delivered"`
	Lost           uint64  `json:"lost"`
	Duplicated     uint64  `json:"duplicated"`
	OutOfOrder     uint64  `json:"out_of_order"`
	PeakAcceptPerS float64 `json:"peak_accept_per_s"`
	Met            bool    `json:"met"`
	Error          string  `json:"error,omitempty"`
}

// Machine describes where the suite ran.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// Results are everything one run of the suite measured.
type Results struct {
	Date     time.Time      `json:"date"`
	Machine  Machine        `json:"machine"`
	Quick    bool           `json:"quick"`
	Rounds   int            `json:"rounds"`
	Params   map[string]any `json:"params"`
	Figures  []*Figure      `json:"figures"`
	Healing  *Healing       `json:"healing,omitempty"`
	Fleet    *Fleet         `json:"fleet,omitempty"`
	Storm    *Storm         `json:"storm,omitempty"`
	Profiles []string       `json:"profiles,omitempty"`
	Notes    []string       `json:"notes,omitempty"`
	ElapsedS float64        `json:"elapsed_s"`
}

// figure returns the row named name, adding it if new.
func (r *Results) figure(name, unit string, goals ...Goal) *Figure {
	for _, f := range r.Figures {
		if f.Name == name {
			return f
		}
	}
	f := &Figure{Name: name, Unit: unit, Values: map[string][]float64{}, Goals: goals}
	r.Figures = append(r.Figures, f)
	return f
}

// add records one round's value of server for the row.
func (f *Figure) add(server string, v float64) { f.Values[server] = append(f.Values[server], v) }

// finish computes medians, ratios and goals.
func (r *Results) finish() {
	for _, f := range r.Figures {
		f.Median = map[string]float64{}
		for _, s := range Servers {
			f.Median[s] = Median(f.Values[s])
		}
		f.RatioGws = Ratio(f.Median[ProtoWsheal], f.Median[ProtoGws])
		f.RatioNATS = Ratio(f.Median[ProtoWsheal], f.Median[ProtoNATS])
		f.RatioCentrifugo = Ratio(f.Median[ProtoWsheal], f.Median[ProtoCentrifugo])
		f.RatioFloor = Ratio(f.Median[ProtoWsheal], f.Median[ProtoFloor])
		// A goal against a reference left out of the run is not judged.
		met, judged := true, false
		for _, g := range f.Goals {
			if ratio := f.ratioTo(g.Ref); !math.IsNaN(ratio) || math.IsNaN(f.Median[ProtoWsheal]) {
				met, judged = met && g.Met(ratio), true
			}
		}
		if judged {
			f.Met = &met
		}
	}
}

// Markdown renders the tables.
func (r *Results) Markdown() string {
	var b strings.Builder
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, "### wsheal bench suite, %s (%s run, %d rounds, medians)\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), mode, r.Rounds)
	fmt.Fprintf(&b, "Machine: %s, %d cores, Linux %s, %s.\n\n", r.Machine.CPU, r.Machine.Cores, r.Machine.Kernel, r.Machine.Go)
	b.WriteString("| figure | wsheal | raw gws | NATS ws | Centrifugo | floor | wsheal ÷ gws | wsheal ÷ NATS | wsheal ÷ Centrifugo | wsheal ÷ floor | goal | met |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, f := range r.Figures {
		var goals []string
		for _, g := range f.Goals {
			goals = append(goals, g.String())
		}
		met := ""
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Name, f.Unit,
			num(f.Median[ProtoWsheal]), num(f.Median[ProtoGws]), num(f.Median[ProtoNATS]),
			num(f.Median[ProtoCentrifugo]), num(f.Median[ProtoFloor]),
			ratio(f.RatioGws), ratio(f.RatioNATS), ratio(f.RatioCentrifugo), ratio(f.RatioFloor),
			strings.Join(goals, ", "), met)
	}
	if h := r.Healing; h != nil {
		b.WriteString("\n| healing | value |\n| --- | ---: |\n")
		fmt.Fprintf(&b, "| clients on %d wsheal nodes, one killed (SIGKILL) | %d (%d on the killed node) |\n", h.Nodes, h.Clients, h.KilledConns)
		fmt.Fprintf(&b, "| kill to every client connected again (server view) | %s ms |\n", num(h.AllBackMS))
		fmt.Fprintf(&b, "| time to reconnect, p50 / slowest client (client view) | %s / %s ms |\n", num(h.ReconnectP50MS), num(h.ReconnectMaxMS))
		fmt.Fprintf(&b, "| messages delivered / lost / duplicated / out of order | %d / %d / %d / %d |\n", h.Delivered, h.Lost, h.Duplicated, h.OutOfOrder)
		fmt.Fprintf(&b, "| peak accept rate on the survivors | %s conns/s |\n", num(h.PeakAcceptPerS))
		fmt.Fprintf(&b, "| goal: all back within 3 s, 0 lost, 0 duplicated | %s |\n", map[bool]string{true: "met", false: "**not met**"}[h.Met])
		if h.Error != "" {
			fmt.Fprintf(&b, "| error | %s |\n", h.Error)
		}
	}
	if f := r.Fleet; f != nil {
		b.WriteString("\n| fleet | value |\n| --- | ---: |\n")
		fmt.Fprintf(&b, "| clients on %d wsheal nodes (%d channels, cap %d per node) | %d |\n", f.Nodes, f.Channels, f.Cap, f.Clients)
		fmt.Fprintf(&b, "| ramp: first dial to every client subscribed | %s s |\n", num(f.RampS))
		fmt.Fprintf(&b, "| accept rate during the ramp, mean / peak | %s / %s conns/s |\n", num(f.AcceptMeanPerS), num(f.AcceptPeakPerS))
		fmt.Fprintf(&b, "| memory per connection: gateways / broker (NATS) | %s / %s KiB |\n", num(f.GatewayKiBPerCon), num(f.BrokerKiBPerConn))
		fmt.Fprintf(&b, "| node killed (SIGKILL) holding | %d clients |\n", f.KilledConns)
		fmt.Fprintf(&b, "| kill to its clients subscribed again: first / half / all | %s / %s / %s ms |\n", num(f.ResumedFirstMS), num(f.ResumedHalfMS), num(f.ResumedAllMS))
		fmt.Fprintf(&b, "| survivors: peak accept rate / largest pool (cap %d) | %s conns/s / %d |\n", f.Cap, num(f.PeakAcceptPerS), f.MaxSurvivorConns)
		fmt.Fprintf(&b, "| messages accepted / delivered / lost / duplicated | %d / %d / %d / %d |\n", f.Accepted, f.Delivered, f.Lost, f.Duplicated)
		fmt.Fprintf(&b, "| goal: all resumed within 3 s, 0 lost, no survivor over its cap | %s |\n", map[bool]string{true: "met", false: "**not met**"}[f.Met])
		if f.Error != "" {
			fmt.Fprintf(&b, "| error | %s |\n", f.Error)
		}
	}
	if s := r.Storm; s != nil {
		b.WriteString("\n| resume storm | value |\n| --- | ---: |\n")
		fmt.Fprintf(&b, "| clients on 1 wsheal node (%d channels), each resuming a gap of | %d / %d messages |\n", s.Channels, s.Clients, s.Gap)
		fmt.Fprintf(&b, "| resume to every client subscribed again / holding the whole gap | %s / %s ms |\n", num(s.SubscribedMS), num(s.LiveMS))
		fmt.Fprintf(&b, "| gateway CPU time over that (the clients, on the same cores, take the rest) | %s s |\n", num(s.GatewayCPUS))
		fmt.Fprintf(&b, "| gateway memory before / at the peak (%s) | %s / %s MiB |\n", s.PeakFrom, num(s.RSSBeforeMiB), num(s.RSSPeakMiB))
		fmt.Fprintf(&b, "| messages accepted / delivered / lost / duplicated | %d / %d / %d / %d |\n", s.Accepted, s.Delivered, s.Lost, s.Duplicated)
		if s.Error != "" {
			fmt.Fprintf(&b, "| error | %s |\n", s.Error)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	fmt.Fprintf(&b, "\n\nElapsed: %.0f s.\n", r.ElapsedS)
	return b.String()
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

// Save writes bench-<date>.md and .json, latest.md and latest.json under
// dir and returns the paths written.
func (r *Results) Save(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("suite: results dir: %w", err)
	}
	js, err := json.MarshalIndent(jsonSafe(r), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("suite: results json: %w", err)
	}
	md := []byte(r.Markdown())
	stamp := r.Date.UTC().Format("20060102-150405")
	files := map[string][]byte{
		"bench-" + stamp + ".md": md, "bench-" + stamp + ".json": js,
		"latest.md": md, "latest.json": js,
	}
	var out []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return out, fmt.Errorf("suite: save %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// jsonSafe replaces NaN and infinities (which JSON cannot carry) by -1
// in a copy: a round's value, a median, a ratio.
func jsonSafe(r *Results) *Results {
	c := *r
	c.Figures = nil
	fix := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return -1
		}
		return v
	}
	for _, f := range r.Figures {
		g := *f
		g.Median = map[string]float64{}
		for k, v := range f.Median {
			g.Median[k] = fix(v)
		}
		g.Values = map[string][]float64{}
		for k, vs := range f.Values {
			for _, v := range vs {
				g.Values[k] = append(g.Values[k], fix(v))
			}
		}
		g.RatioGws, g.RatioNATS = fix(f.RatioGws), fix(f.RatioNATS)
		g.RatioCentrifugo, g.RatioFloor = fix(f.RatioCentrifugo), fix(f.RatioFloor)
		c.Figures = append(c.Figures, &g)
	}
	return &c
}

// machine describes this host.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown CPU", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
