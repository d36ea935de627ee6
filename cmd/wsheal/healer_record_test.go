package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/record"
)

// printRecord shows the figures the choice uses: score, failures in a
// row, failures by reason, median time to verify, the last outcomes.
func TestPrintRecord(t *testing.T) {
	var restart, hook events.RemedyRecord
	at := time.Now()
	for range 4 {
		record.Add(&restart, record.Outcome{Kind: "node_down", Remedy: "restart", Class: "node", OK: true, Took: 700 * time.Millisecond, At: at})
	}
	record.Add(&hook, record.Outcome{Kind: "node_down", Remedy: "webhook", Class: "node", Reason: record.ReasonDeadline, Took: 3004 * time.Millisecond, At: at})
	rs := []events.RemedyRecord{hook, restart}
	record.Sort(rs)
	var b bytes.Buffer
	if err := printRecord(&b, rs); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, want := range [][]string{
		{"node_down", "restart", "0.83", "1s", "++++"},
		{"node_down", "webhook", "0.33", "deadline=1", "3.004s", "x"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Fatalf("line %q lacks %q", lines[i+1], w)
			}
		}
	}
}
