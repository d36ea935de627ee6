package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// Switches are the global pause and dry-run switches.
type Switches struct {
	Paused bool   `json:"paused"`
	DryRun bool   `json:"dry_run"`
	Reason string `json:"reason,omitempty"`
	// By is the authenticated NATS identity of the last change (see
	// events.HealerPauseCommand); Claimed what the request said of itself.
	By      string `json:"by,omitempty"`
	Claimed string `json:"claimed,omitempty"`
	// RequestID is the id of the last change: a repeat changes nothing.
	RequestID string    `json:"request_id,omitempty"`
	At        time.Time `json:"at"`
	// Set is true once an operator wrote the switches; until then the
	// configured default dry-run applies.
	Set bool `json:"set"`
}

// Switches reads the switches; def applies when none were ever set.
func (s *Store) Switches(ctx context.Context, def Switches) (Switches, error) {
	var sw Switches
	_, found, err := s.get(ctx, "switches", &sw)
	if err != nil || !found {
		return def, err
	}
	return sw, nil
}

// SetSwitches changes the switches with f, starting from def when unset.
func (s *Store) SetSwitches(ctx context.Context, def Switches, f func(*Switches)) (Switches, error) {
	return update(ctx, s, "switches", func(sw *Switches) {
		if !sw.Set {
			*sw = def
		}
		f(sw)
		sw.Set = true
		sw.At = time.Now().UTC()
	})
}

// HandsOff returns every hands-off lock, sorted by node.
func (s *Store) HandsOff(ctx context.Context) ([]events.HandsOff, error) {
	nodes, err := s.keys(ctx, "handsoff")
	if err != nil {
		return nil, err
	}
	slices.Sort(nodes)
	out := make([]events.HandsOff, 0, len(nodes))
	for _, n := range nodes {
		var h events.HandsOff
		if _, found, err := s.get(ctx, "handsoff."+Key(n), &h); err != nil {
			return nil, err
		} else if found {
			out = append(out, h)
		}
	}
	return out, nil
}

// IsHandsOff reports whether node is locked.
func (s *Store) IsHandsOff(ctx context.Context, node string) (bool, error) {
	var h events.HandsOff
	_, found, err := s.get(ctx, "handsoff."+Key(node), &h)
	return found, err
}

// SetHandsOff locks node.
func (s *Store) SetHandsOff(ctx context.Context, h events.HandsOff) error {
	return s.put(ctx, "handsoff."+Key(h.Node), h)
}

// ClearHandsOff unlocks node and lifts its quarantine.
func (s *Store) ClearHandsOff(ctx context.Context, node string) error {
	if err := s.del(ctx, "handsoff."+Key(node)); err != nil {
		return err
	}
	if err := s.desired.Delete(ctx, events.QuarantineKey(node)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: lift quarantine of %s: %w", ErrStore, node, err)
	}
	return s.del(ctx, "quarantine."+Key(node))
}

// Quarantine is a node drained and left out after flapping.
type Quarantine struct {
	Node   string    `json:"node"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// SetQuarantine records a quarantine, and publishes it in the desired-state
// bucket under events.QuarantineKey, where the monitor shows the node as
// quarantined and raises nothing more for it.
func (s *Store) SetQuarantine(ctx context.Context, q Quarantine) error {
	b, err := json.Marshal(events.Quarantine{Node: q.Node, Reason: q.Reason, By: "healer", Since: q.Since})
	if err != nil {
		return fmt.Errorf("%w: encode quarantine: %w", ErrStore, err)
	}
	if _, err := s.desired.Put(ctx, events.QuarantineKey(q.Node), b); err != nil {
		return fmt.Errorf("%w: publish quarantine of %s: %w", ErrStore, q.Node, err)
	}
	return s.put(ctx, "quarantine."+Key(q.Node), q)
}

// IsQuarantined reports whether node is quarantined.
func (s *Store) IsQuarantined(ctx context.Context, node string) (bool, error) {
	var q Quarantine
	_, found, err := s.get(ctx, "quarantine."+Key(node), &q)
	return found, err
}

// Quarantined lists quarantined nodes.
func (s *Store) Quarantined(ctx context.Context) ([]string, error) {
	out, err := s.keys(ctx, "quarantine")
	slices.Sort(out)
	return out, err
}

// Panic is the fleet-wide panic state: set when the healer stopped acting
// because too much of the fleet was silent, so it escalates once.
type Panic struct {
	Active bool      `json:"active"`
	Since  time.Time `json:"since"`
}

// EnterPanic marks the panic; it returns true for the caller that entered it.
func (s *Store) EnterPanic(ctx context.Context, now time.Time) (bool, error) {
	entered := false
	_, err := update(ctx, s, "panic", func(p *Panic) {
		entered = !p.Active
		if entered {
			*p = Panic{Active: true, Since: now}
		}
	})
	return entered, err
}

// Panicking reports whether the panic state is set.
func (s *Store) Panicking(ctx context.Context) (bool, error) {
	var p Panic
	_, _, err := s.get(ctx, "panic", &p)
	return p.Active, err
}

// LeavePanic clears the panic.
func (s *Store) LeavePanic(ctx context.Context) error {
	var p Panic
	if _, found, err := s.get(ctx, "panic", &p); err != nil || !found || !p.Active {
		return err
	}
	return s.put(ctx, "panic", Panic{})
}
