package gate

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/record"
	"github.com/wsheal/wsheal/services/healer/state"
)

// Learn tunes the choice of the order of a policy's ladder.
type Learn struct {
	// DemoteAfter: a remedy that failed this many times in a row goes
	// after every other (0: never).
	DemoteAfter int `envconfig:"DEMOTE_AFTER" default:"3" desc:"a remedy that failed this many times in a row for an anomaly kind is tried after the others (0: never)"`
	// ExploreEvery: one case in this many tries the least-tried other
	// remedy first (0: never), chosen from the case id so that every
	// replica agrees.
	ExploreEvery int `envconfig:"EXPLORE_EVERY" default:"10" desc:"one case in this many (by a hash of its anomaly id) tries the least-tried other remedy of a learned ladder first (0: never)"`
	// ExploreMin: exploration starts once the best remedy has this many
	// attempts in the record.
	ExploreMin int `envconfig:"EXPLORE_MIN" default:"3" desc:"exploration starts once the best remedy of a ladder has this many attempts in the record"`
}

// Validate fails on a negative setting, naming its variable under prefix
// (the service's, e.g. WSHEAL_HEALER).
func (l Learn) Validate(prefix string) error {
	for _, n := range []struct {
		name string
		v    int
	}{{"DEMOTE_AFTER", l.DemoteAfter}, {"EXPLORE_EVERY", l.ExploreEvery}, {"EXPLORE_MIN", l.ExploreMin}} {
		if n.v < 0 {
			return fmt.Errorf("%s_%s=%v: want 0 or more", prefix, n.name, n.v)
		}
	}
	return nil
}

// Choice is the order of a ladder for one case, and why.
type Choice struct {
	Order []int // indices into the policy's Actions
	Info  events.RemedyChoice
}

// Choose orders the ladder of policy p for the case caseID from the
// record of its remedies (by remedy name). The rule:
//
//  1. A pinned policy, or a ladder of one step, keeps its order.
//  2. Else a remedy that failed DemoteAfter times in a row goes last;
//     then the higher Laplace-smoothed success rate
//     (successes+1)/(attempts+2) first (an untried remedy scores 0.5);
//     ties go to the shorter median time to verify (unknown last), then
//     to the remedy that takes no node out of service, then to the
//     ladder's order.
//  3. One case in ExploreEvery (by a hash of the case id), once the best
//     remedy has ExploreMin attempts, tries the least-tried other remedy
//     first, so that the record of the others does not freeze.
//
// The choice only reorders what the policy allows.
func Choose(p *policy.Policy, recs map[string]events.RemedyRecord, caseID string, l Learn) Choice {
	n := len(p.Actions)
	order := make([]int, n)
	figs := make([]events.RemedyFigures, n)
	for i, s := range p.Actions {
		order[i] = i
		figs[i] = figures(s, recs[s.Remedy()], l)
	}
	ch := Choice{Order: order, Info: events.RemedyChoice{Rule: events.ChoicePinned}}
	if p.Pinned() || n < 2 {
		ch.Info.Why = "the policy's ladder as written"
		if p.Pinned() {
			ch.Info.Why = "the policy " + p.Name + " pins its order"
		}
		return ch.finish(p, figs)
	}
	ch.Info.Rule = events.ChoiceLearned
	sort.SliceStable(order, func(a, b int) bool { return before(figs[order[a]], figs[order[b]]) })
	best := figs[order[0]]
	if l.ExploreEvery > 0 && best.Attempts >= l.ExploreMin && pick(caseID, l.ExploreEvery) {
		k := 1
		for i := 2; i < n; i++ {
			if figs[order[i]].Attempts < figs[order[k]].Attempts {
				k = i
			}
		}
		if figs[order[k]].Remedy != best.Remedy {
			first := order[k]
			order = append([]int{first}, append(append([]int{}, order[:k]...), order[k+1:]...)...)
			ch.Order = order
			ch.Info.Rule = events.ChoiceExplore
			ch.Info.Why = fmt.Sprintf("exploring (one case in %d): %s first, tried %d times, before the best, %s", l.ExploreEvery,
				figs[first].Remedy, figs[first].Attempts, describe(best))
			return ch.finish(p, figs)
		}
	}
	ch.Info.Why = why(order, figs)
	return ch.finish(p, figs)
}

// finish fills the order's remedy names and the figures used, once per
// remedy.
func (ch Choice) finish(p *policy.Policy, figs []events.RemedyFigures) Choice {
	seen := map[string]bool{}
	for _, i := range ch.Order {
		ch.Info.Order = append(ch.Info.Order, p.Actions[i].Remedy())
		if !seen[figs[i].Remedy] {
			seen[figs[i].Remedy] = true
			ch.Info.Record = append(ch.Info.Record, figs[i])
		}
	}
	return ch
}

func figures(s policy.Step, r events.RemedyRecord, l Learn) events.RemedyFigures {
	return events.RemedyFigures{Remedy: s.Remedy(), Attempts: r.Attempts, Successes: r.Successes,
		Score: record.Score(r), MedianVerifyMS: record.MedianVerify(r).Milliseconds(), Streak: r.Streak,
		Demoted: l.DemoteAfter > 0 && r.Streak >= l.DemoteAfter, Disruptive: TakesOut(s.Action)}
}

// before: a comes before b by the rule of Choose.
func before(a, b events.RemedyFigures) bool {
	if a.Demoted != b.Demoted {
		return b.Demoted
	}
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.MedianVerifyMS != b.MedianVerifyMS {
		return b.MedianVerifyMS == 0 || a.MedianVerifyMS != 0 && a.MedianVerifyMS < b.MedianVerifyMS
	}
	return !a.Disruptive && b.Disruptive
}

func pick(caseID string, every int) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(caseID))
	return h.Sum32()%uint32(every) == 0
}

func why(order []int, figs []events.RemedyFigures) string {
	parts := make([]string, 0, len(order))
	seen := map[string]bool{}
	for _, i := range order {
		if !seen[figs[i].Remedy] {
			seen[figs[i].Remedy] = true
			parts = append(parts, describe(figs[i]))
		}
	}
	return "by the record: " + strings.Join(parts, ", then ")
}

func describe(f events.RemedyFigures) string {
	s := fmt.Sprintf("%s %.2f (%d/%d worked", f.Remedy, f.Score, f.Successes, f.Attempts)
	if f.MedianVerifyMS > 0 {
		s += ", median " + (time.Duration(f.MedianVerifyMS) * time.Millisecond).String()
	}
	if f.Demoted {
		s += fmt.Sprintf(", demoted after %d failures in a row", f.Streak)
	}
	return s + ")"
}

// Ladder is the policy of the case with its ladder in the case's order:
// the order saved when its first attempt began, else (for a case not
// begun) the one Choose makes from the snapshot's record. Nil without a
// policy.
func Ladder(c state.Case, s Snapshot) (*policy.Policy, Choice) {
	if s.Policy == nil {
		return nil, Choice{}
	}
	if policy.IsOrder(c.Order, len(s.Policy.Actions)) {
		ch := Choice{Order: c.Order}
		if c.Choice != nil {
			ch.Info = *c.Choice
		}
		return s.Policy.Ordered(c.Order), ch
	}
	if c.Attempts > 0 {
		// A case begun without a saved order (by a replica of an older
		// version, or before the policy file changed) keeps walking the
		// ladder as written: a new order could repeat a step.
		ch := Choose(&policy.Policy{Name: s.Policy.Name, Actions: s.Policy.Actions, Order: policy.OrderPinned}, s.Records, c.AnomalyID, s.Learn)
		ch.Info.Why = "the case began on the ladder as written"
		return s.Policy, ch
	}
	ch := Choose(s.Policy, s.Records, c.AnomalyID, s.Learn)
	return s.Policy.Ordered(ch.Order), ch
}
