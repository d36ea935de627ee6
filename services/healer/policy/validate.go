package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wsheal/wsheal/pkg/events"
)

// validator collects FieldErrors with the line of the offending field.
type validator struct {
	source string
	root   *yaml.Node
	errs   []error
}

// fail records an error at path (keys and indexes from the document root).
func (v *validator) fail(path []any, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{
		Source: v.source,
		Line:   lineOf(v.root, path),
		Field:  pathString(path),
		Msg:    fmt.Sprintf(format, args...),
	})
}

func (v *validator) set(s *Set) {
	if len(s.Policies) == 0 {
		v.fail([]any{"policies"}, "no policies: give at least one")
	}
	names := map[string]bool{}
	for i, p := range s.Policies {
		at := []any{"policies", i}
		switch {
		case p.Name == "":
			v.fail(append(at, "name"), "missing")
		case names[p.Name]:
			v.fail(append(at, "name"), "%q is used twice", p.Name)
		}
		names[p.Name] = true
		v.policy(at, p)
	}
}

func (v *validator) policy(at []any, p Policy) {
	if len(p.Kinds) == 0 {
		v.fail(append(at, "kinds"), "missing: name at least one anomaly kind")
	}
	for k, kind := range p.Kinds {
		if !slices.Contains(Kinds, kind) {
			v.fail(append(at, "kinds", k), "%q is not an anomaly kind (want one of %s)", kind, strings.Join(Kinds, ", "))
		}
	}
	if p.MinSeverity != "" && events.SeverityRank(p.MinSeverity) == 0 {
		v.fail(append(at, "min_severity"), "%q, want critical, error, warning or info", p.MinSeverity)
	}
	if len(p.Actions) == 0 {
		v.fail(append(at, "actions"), "missing: give at least one action")
	}
	if p.Order != "" && p.Order != OrderLearned && p.Order != OrderPinned {
		v.fail(append(at, "order"), "%q, want learned or pinned", p.Order)
	}
	for j, s := range p.Actions {
		v.step(append(append([]any{}, at...), "actions", j), s)
	}
	v.informOnly(at, p)
	for j, s := range p.Then {
		v.step(append(append([]any{}, at...), "then", j), s)
	}
}

// informOnly refuses node actions in a policy for an inform-only kind.
func (v *validator) informOnly(at []any, p Policy) {
	for _, kind := range p.Kinds {
		if !slices.Contains(InformOnly, kind) {
			continue
		}
		for j, s := range append(append([]Step{}, p.Actions...), p.Then...) {
			if !Informs(s.Action) {
				v.fail(append(append([]any{}, at...), "actions", j), "%s on %s: a shift shared by the fleet may only escalate or call a webhook", s.Action, kind)
			}
		}
	}
}

func (v *validator) step(at []any, s Step) {
	f := func(field string) []any { return append(append([]any{}, at...), field) }
	if !slices.Contains(Actions, s.Action) {
		v.fail(f("action"), "%q is not an action (want one of %s)", s.Action, strings.Join(Actions, ", "))
		return
	}
	if s.Verify != "" && !slices.Contains(Verifications, s.Verify) {
		v.fail(f("verify"), "%q is not a post-condition (want one of %s)", s.Verify, strings.Join(Verifications, ", "))
	}
	if s.Verify == VerifyScaled && s.Action != events.ActionScale {
		v.fail(f("verify"), "scaled is the post-condition of scale alone; %s needs another", s.Action)
	}
	if s.Deadline != 0 && (s.Deadline.D() < 100*time.Millisecond || s.Deadline.D() > time.Hour) {
		v.fail(f("deadline"), "%s, want 100ms..1h", s.Deadline)
	}
	if s.Attempts < 0 || s.Attempts > 20 {
		v.fail(f("attempts"), "%d, want 1..20", s.Attempts)
	}
	for _, field := range s.misplaced() {
		v.fail(f(field), "does not apply to action %s", s.Action)
	}
	v.params(f, s)
}

// params checks the parameters of the step's own action.
func (v *validator) params(f func(string) []any, s Step) {
	switch s.Action {
	case events.ActionReconnect:
		switch s.Select {
		case events.SelectStale, events.SelectIdle:
		case events.SelectAll:
			if s.Fraction == 0 && s.Count == 0 {
				v.fail(f("select"), "all needs a fraction or a count: an unbounded selection is never meant")
			}
		case "":
			v.fail(f("select"), "missing: stale, idle or all")
		default:
			v.fail(f("select"), "%q, want stale, idle or all", s.Select)
		}
		if s.Fraction < 0 || s.Fraction > 1 {
			v.fail(f("fraction"), "%v, want 0..1", s.Fraction)
		}
		if s.Count < 0 {
			v.fail(f("count"), "negative")
		}
		if s.Over.D() > 10*time.Minute {
			v.fail(f("over"), "%s, at most 10m", s.Over)
		}
	case events.ActionResize:
		if s.MaxConnsFactor == 0 && s.AcceptRate == 0 {
			v.fail(f("max_conns_factor"), "resize needs max_conns_factor or accept_rate")
		}
		if s.MaxConnsFactor < 0 || s.MaxConnsFactor > 1 {
			v.fail(f("max_conns_factor"), "%v, want 0..1", s.MaxConnsFactor)
		}
		if s.AcceptRate < 0 {
			v.fail(f("accept_rate"), "negative")
		}
	case events.ActionRebalance:
		if s.Bound != 0 && (s.Bound <= 1 || s.Bound > 3) {
			v.fail(f("bound"), "%v, want more than 1 and at most 3", s.Bound)
		}
		if s.WaveFraction < 0 || s.WaveFraction > 1 {
			v.fail(f("wave_fraction"), "%v, want 0..1", s.WaveFraction)
		}
		if s.MaxWaves < 0 || s.MaxWaves > 1000 {
			v.fail(f("max_waves"), "%d, want 1..1000", s.MaxWaves)
		}
	case events.ActionScale:
		switch s.Scale {
		case 1, -1:
		case 0:
			v.fail(f("step"), "missing: +1 adds a node, -1 removes one")
		default:
			v.fail(f("step"), "%+d, want +1 or -1: the healer adds or removes one node at a time", s.Scale)
		}
	case events.ActionWebhook:
		if s.URL == "" {
			v.fail(f("url"), "missing: the runbook webhook URL")
		} else if err := checkURL(s.URL); err != nil {
			v.fail(f("url"), "%v", err)
		}
	}
}

// misplaced lists the parameters set that the action does not take.
func (s Step) misplaced() []string {
	var out []string
	add := func(set bool, field string, actions ...string) {
		if set && !slices.Contains(actions, s.Action) {
			out = append(out, field)
		}
	}
	add(s.Select != "", "select", events.ActionReconnect)
	add(s.Fraction != 0, "fraction", events.ActionReconnect)
	add(s.Count != 0, "count", events.ActionReconnect)
	add(s.Over != 0, "over", events.ActionReconnect, events.ActionDrain, events.ActionQuarantine)
	add(s.MaxConnsFactor != 0, "max_conns_factor", events.ActionResize)
	add(s.AcceptRate != 0, "accept_rate", events.ActionResize)
	add(s.RestoreAfter != 0, "restore_after", events.ActionResize)
	add(s.Bound != 0, "bound", events.ActionRebalance)
	add(s.WaveFraction != 0, "wave_fraction", events.ActionRebalance)
	add(s.WavePause != 0, "wave_pause", events.ActionRebalance)
	add(s.MaxWaves != 0, "max_waves", events.ActionRebalance)
	add(s.URL != "", "url", events.ActionWebhook)
	add(s.Scale != 0, "step", events.ActionScale)
	return out
}

// lineOf finds the line of the node at path, or of its nearest ancestor.
func lineOf(n *yaml.Node, path []any) int {
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch key := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && key < len(n.Content) {
				next = n.Content[key]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch x := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		case int:
			b.WriteString("[" + strconv.Itoa(x) + "]")
		}
	}
	return b.String()
}
