package gate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/state"
)

func ladder(order string, actions ...string) *policy.Policy {
	p := &policy.Policy{Name: "p", Kinds: []string{events.KindErrorRate}, Order: order}
	for _, a := range actions {
		p.Actions = append(p.Actions, policy.Step{Action: a, Attempts: 1})
	}
	return p
}

func rec(remedy string, attempts, successes, streak int, verify ...int) events.RemedyRecord {
	r := events.RemedyRecord{Remedy: remedy, Attempts: attempts, Successes: successes, Streak: streak,
		VerifyBuckets: make([]int, len(events.VerifyBounds)+1)}
	for _, b := range verify {
		r.VerifyBuckets[b]++
	}
	return r
}

func TestChoose(t *testing.T) {
	web, rst, rc := events.ActionWebhook, events.ActionRestart, events.ActionReconnect
	learn := gate.Learn{DemoteAfter: 3}
	cases := []struct {
		name  string
		p     *policy.Policy
		recs  []events.RemedyRecord
		l     gate.Learn
		want  string
		rule  string
		cites string
	}{
		{"no record keeps the ladder", ladder("", web, rst), nil, learn, "webhook,restart", events.ChoiceLearned, "0/0"},
		{"a failure demotes below the untried", ladder("", web, rst), []events.RemedyRecord{rec(web, 1, 0, 1)}, learn,
			"restart,webhook", events.ChoiceLearned, "webhook 0.33 (0/1 worked)"},
		{"success rate orders", ladder("", web, rst), []events.RemedyRecord{rec(web, 4, 1, 0), rec(rst, 4, 3, 0, 2, 2, 2)}, learn,
			"restart,webhook", events.ChoiceLearned, "restart 0.67 (3/4 worked, median 5s)"},
		{"pinned keeps the ladder", ladder(policy.OrderPinned, web, rst), []events.RemedyRecord{rec(web, 9, 0, 9)}, learn,
			"webhook,restart", events.ChoicePinned, "pins"},
		{"demotion beats the rate", ladder("", rc, rst), []events.RemedyRecord{rec(rc, 20, 15, 3, 1), rec(rst, 2, 0, 0)}, learn,
			"restart,reconnect", events.ChoiceLearned, "demoted after 3 failures"},
		{"equal rate: faster first", ladder("", rst, rc), []events.RemedyRecord{rec(rst, 1, 1, 0, 6), rec(rc, 1, 1, 0, 1)}, learn,
			"reconnect,restart", events.ChoiceLearned, "median 2s"},
		{"equal figures: the less disruptive first", ladder("", rst, rc), nil, learn,
			"reconnect,restart", events.ChoiceLearned, ""},
		{"one step is pinned", ladder("", rst), []events.RemedyRecord{rec(rst, 5, 0, 5)}, learn,
			"restart", events.ChoicePinned, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := map[string]events.RemedyRecord{}
			for _, r := range tc.recs {
				recs[r.Remedy] = r
			}
			ch := gate.Choose(tc.p, recs, "case-1", tc.l)
			if got := strings.Join(ch.Info.Order, ","); got != tc.want || ch.Info.Rule != tc.rule {
				t.Fatalf("order %s (%s), want %s (%s): %s", got, ch.Info.Rule, tc.want, tc.rule, ch.Info.Why)
			}
			if !strings.Contains(ch.Info.Why, tc.cites) || len(ch.Info.Record) != len(tc.p.Actions) {
				t.Fatalf("why %q does not cite %q, or record %+v", ch.Info.Why, tc.cites, ch.Info.Record)
			}
			if got := tc.p.Ordered(ch.Order).Actions[0].Remedy(); got != ch.Info.Order[0] {
				t.Fatalf("ordered ladder starts with %s", got)
			}
		})
	}
}

// Exploration tries the least-tried other remedy first in about one case
// in ExploreEvery, the same for every replica (by case id), and only once
// the best remedy has ExploreMin attempts.
func TestChooseExplores(t *testing.T) {
	p := ladder("", events.ActionWebhook, events.ActionRestart, events.ActionReconnect)
	recs := map[string]events.RemedyRecord{
		events.ActionRestart:   rec(events.ActionRestart, 10, 9, 0, 2),
		events.ActionWebhook:   rec(events.ActionWebhook, 5, 1, 0),
		events.ActionReconnect: rec(events.ActionReconnect, 2, 0, 2),
	}
	l := gate.Learn{DemoteAfter: 3, ExploreEvery: 5, ExploreMin: 3}
	explored := 0
	for i := range 1000 {
		id := fmt.Sprintf("anomaly-%d", i)
		ch := gate.Choose(p, recs, id, l)
		again := gate.Choose(p, recs, id, l)
		if strings.Join(ch.Info.Order, ",") != strings.Join(again.Info.Order, ",") {
			t.Fatal("two replicas disagree on a case's order")
		}
		switch ch.Info.Rule {
		case events.ChoiceExplore:
			explored++
			if ch.Info.Order[0] != events.ActionReconnect || !strings.Contains(ch.Info.Why, "exploring") {
				t.Fatalf("explored %v: %s", ch.Info.Order, ch.Info.Why)
			}
		case events.ChoiceLearned:
			if ch.Info.Order[0] != events.ActionRestart {
				t.Fatalf("learned %v", ch.Info.Order)
			}
		}
	}
	if explored < 150 || explored > 250 {
		t.Fatalf("explored %d of 1000 cases, want about 200", explored)
	}
	l.ExploreMin = 11
	for i := range 100 {
		if ch := gate.Choose(p, recs, fmt.Sprintf("anomaly-%d", i), l); ch.Info.Rule != events.ChoiceLearned {
			t.Fatal("explored before the best remedy had ExploreMin attempts")
		}
	}
}

// A case keeps the order chosen when its first attempt began, whatever
// the record says later.
func TestLadderKeepsTheCaseOrder(t *testing.T) {
	p := ladder("", events.ActionWebhook, events.ActionRestart)
	s := gate.Snapshot{Policy: p, Records: map[string]events.RemedyRecord{
		events.ActionWebhook: rec(events.ActionWebhook, 3, 0, 3)}, Learn: gate.Learn{DemoteAfter: 3}}
	got, _ := gate.Ladder(state.Case{AnomalyID: "a"}, s)
	if got.Actions[0].Action != events.ActionRestart {
		t.Fatalf("new case: %v", got.Actions)
	}
	got, _ = gate.Ladder(state.Case{AnomalyID: "a", Order: []int{0, 1}}, s)
	if got.Actions[0].Action != events.ActionWebhook {
		t.Fatalf("saved order not kept: %v", got.Actions)
	}
	step, n, _, _ := gate.Next(state.Case{AnomalyID: "a", Order: []int{1, 0}, Attempts: 1}, s)
	if n != 2 || step.Action != events.ActionWebhook {
		t.Fatalf("second attempt %s (%d)", step.Action, n)
	}
	got, _ = gate.Ladder(state.Case{AnomalyID: "a", Order: []int{0, 0}}, s)
	if got.Actions[0].Action != events.ActionRestart {
		t.Fatal("an order that is no permutation of the ladder was used")
	}
	got, ch := gate.Ladder(state.Case{AnomalyID: "a", Attempts: 1}, s)
	if got.Actions[0].Action != events.ActionWebhook || ch.Info.Rule != events.ChoicePinned {
		t.Fatalf("a case begun without an order was reordered: %v %+v", got.Actions, ch.Info)
	}
}
