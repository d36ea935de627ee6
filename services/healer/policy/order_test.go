package policy_test

import (
	"strings"
	"testing"

	"github.com/wsheal/wsheal/services/healer/policy"
)

func TestOrder(t *testing.T) {
	const file = "policies: [{name: a, kinds: [error_rate], order: %s, actions: [{action: reconnect, select: stale}, {action: restart}]}]"
	s, err := policy.Decode([]byte(strings.Replace(file, "%s", "pinned", 1)), "p.yaml")
	if err != nil || !s.Policies[0].Pinned() {
		t.Fatalf("pinned: %v", err)
	}
	if _, err := policy.Decode([]byte(strings.Replace(file, "%s", "random", 1)), "p.yaml"); err == nil || !strings.Contains(err.Error(), "order") {
		t.Fatalf("an unknown order was accepted: %v", err)
	}
	p := s.Policies[0]
	if p.Actions[0].Remedy() != "reconnect-stale" || p.Actions[1].Remedy() != "restart" {
		t.Fatalf("remedy names %s %s", p.Actions[0].Remedy(), p.Actions[1].Remedy())
	}
	if q := p.Ordered([]int{1, 0}); q.Actions[0].Action != "restart" || p.Actions[0].Action != "reconnect" {
		t.Fatal("Ordered did not reorder a copy")
	}
	for _, bad := range [][]int{nil, {0}, {0, 0}, {1, 2}, {-1, 0}} {
		if policy.IsOrder(bad, 2) || p.Ordered(bad).Actions[0].Action != "reconnect" {
			t.Fatalf("%v taken for an order", bad)
		}
	}
}
