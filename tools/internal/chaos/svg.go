package chaos

import (
	"fmt"
	"html"
	"maps"
	"slices"
	"strings"
	"time"
)

// Chart geometry.
const (
	chartW, chartH = 1200.0, 420.0
	padL, padR     = 60.0, 130.0
	padT, padB     = 40.0, 50.0
)

var nodeColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}

var markColors = map[string]string{
	"fault": "#d62728", "detect": "#ff9f1c", "remediate": "#2ca02c", "recovered": "#1f77b4", "restore": "#7f7f7f", "note": "#9467bd",
}

// Chart draws connections per node over the run, the scenarios as
// shaded bands and their moments (fault, detect, remediate, recovered) as
// vertical markers: a hand-written SVG, no library.
func Chart(rep *Report) string {
	start, end := rep.Start, rep.End
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	maxY := 1
	for _, pts := range rep.Series {
		for _, p := range pts {
			maxY = max(maxY, p.Conns)
		}
	}
	maxY = niceCeil(maxY)
	x := func(t time.Time) float64 {
		return padL + (chartW-padL-padR)*float64(t.Sub(start))/float64(end.Sub(start))
	}
	y := func(v int) float64 { return chartH - padB - (chartH-padT-padB)*float64(v)/float64(maxY) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14" font-weight="bold">Connections per gateway node (heartbeats) and chaos events</text>`+"\n", padL)
	bands(&b, rep, x)
	axes(&b, start, end, maxY, x, y)
	for i, node := range slices.Sorted(maps.Keys(rep.Series)) {
		color := nodeColors[i%len(nodeColors)]
		line(&b, rep.Series[node], color, x, y)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="3" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			chartW-padR+10, padT+float64(i)*16+4, color, chartW-padR+26, padT+float64(i)*16+8, html.EscapeString(node))
	}
	markers(&b, rep, x)
	legendY := padT + float64(len(rep.Series))*16 + 20
	for i, k := range []string{"fault", "detect", "remediate", "recovered", "restore"} {
		yy := legendY + float64(i)*16
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			chartW-padR+10, yy, chartW-padR+22, yy, markColors[k], chartW-padR+26, yy+4, k)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func bands(b *strings.Builder, rep *Report, x func(time.Time) float64) {
	for i, r := range rep.Results {
		if r.End.IsZero() {
			continue
		}
		fill := "#f4f4f4"
		if i%2 == 1 {
			fill = "#e9eef5"
		}
		if r.Status == StatusFailed {
			fill = "#fbe3e3"
		}
		x0, x1 := x(r.Start), x(r.End)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s"><title>%s: %s</title></rect>`+"\n",
			x0, padT, max(x1-x0, 1), chartH-padT-padB, fill, html.EscapeString(r.Name), r.Status)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="10" transform="rotate(-30 %.1f %.0f)">%s</text>`+"\n",
			x0+2, padT-4, x0+2, padT-4, html.EscapeString(r.Name))
	}
}

func axes(b *strings.Builder, start, end time.Time, maxY int, x func(time.Time) float64, y func(int) float64) {
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`+"\n", padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`+"\n", padL, padT, padL, chartH-padB)
	for i := 0; i <= 4; i++ {
		v := maxY * i / 4
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%d</text>`+"\n",
			padL, y(v), chartW-padR, y(v), padL-6, y(v)+4, v)
	}
	span := end.Sub(start)
	step := tickStep(span)
	for t := start.Truncate(step).Add(step); t.Before(end); t = t.Add(step) {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#333"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			x(t), chartH-padB, x(t), chartH-padB+4, x(t), chartH-padB+16, t.UTC().Format("15:04:05"))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle">time (UTC)</text>`+"\n", (padL+chartW-padR)/2, chartH-12)
	fmt.Fprintf(b, `<text x="14" y="%.0f" transform="rotate(-90 14 %.0f)" text-anchor="middle">connections</text>`+"\n", (padT+chartH-padB)/2, (padT+chartH-padB)/2)
}

func line(b *strings.Builder, pts []Point, color string, x func(time.Time) float64, y func(int) float64) {
	if len(pts) == 0 {
		return
	}
	b.WriteString(`<polyline fill="none" stroke-width="1.5" stroke="` + color + `" points="`)
	for i, p := range pts {
		// A gap of more than 3 s (a dead or hung node) breaks the line.
		if i > 0 && p.T.Sub(pts[i-1].T) > 3*time.Second {
			b.WriteString(`"/>` + "\n" + `<polyline fill="none" stroke-width="1.5" stroke="` + color + `" points="`)
		}
		fmt.Fprintf(b, "%.1f,%.1f ", x(p.T), y(p.Conns))
	}
	b.WriteString(`"/>` + "\n")
}

func markers(b *strings.Builder, rep *Report, x func(time.Time) float64) {
	for _, r := range rep.Results {
		for _, m := range r.Marks {
			color, ok := markColors[m.Kind]
			if !ok {
				color = markColors["note"]
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"><title>%s %s: %s</title></line>`+"\n",
				x(m.At), padT, x(m.At), chartH-padB, color, html.EscapeString(r.Name), m.Kind, html.EscapeString(m.Label))
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v int) int {
	p := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		p *= 10
	}
}

// tickStep picks a round time step giving about eight ticks.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour} {
		if span/s <= 10 {
			return s
		}
	}
	return 2 * time.Hour
}
