package notifier

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestControlErrors(t *testing.T) {
	e := newEnv(t)
	e.start("a")
	for _, tc := range []struct {
		verb string
		body string
		code events.ErrorCode
	}{
		{events.VerbIncidentGet, `{`, events.CodeBadRequest},
		{events.VerbIncidentGet, `{"incident":"inc-1","typo":1}`, events.CodeBadRequest},
		{events.VerbIncidentGet, `{"incident":"a.b"}`, events.CodeBadRequest},
		{events.VerbIncidentGet, `{"incident":"inc-nope"}`, events.CodeNotFound},
		{events.VerbReview, `{"incident":"inc-nope"}`, events.CodeNotFound},
		{events.VerbAck, `{"incident":"inc-nope"}`, events.CodeBadRequest},
		{events.VerbAck, `{"id":"c1","incident":"inc-nope"}`, events.CodeNotFound},
		{events.VerbNote, `{"id":"n1","incident":"inc-nope"}`, events.CodeBadRequest},
		{events.VerbIncidentList, `{"state":"weird"}`, events.CodeBadRequest},
		{events.VerbSilence, `{"op":"add","id":"s1"}`, events.CodeBadRequest},
		{events.VerbSilence, `{"op":"expire","id":"nope"}`, events.CodeNotFound},
		{events.VerbSilence, `{"op":"mute"}`, events.CodeBadRequest},
	} {
		t.Run(tc.verb+" "+tc.body, func(t *testing.T) {
			msg, err := e.nc.Request(events.ControlSubject(events.ServiceNotifier, tc.verb), []byte(tc.body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var ce *events.Error
			if err := events.DecodeReply(msg.Data, nil); !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("reply %s: %v, want %s", msg.Data, err, tc.code)
			}
		})
	}
}

// A silence (maintenance window) mutes the page of a SEV1 incident on the
// nodes it covers and records that it did; expiring it lets the page go.
func TestSilenceNoteAndResolve(t *testing.T) {
	e := newEnv(t)
	e.start("a")
	var sl events.SilenceReply
	if err := e.control(events.VerbSilence, events.SilenceCommand{Op: events.SilenceAdd, ID: "maint-1", Node: "gw-9*",
		DurationMS: time.Hour.Milliseconds(), Comment: "kernel upgrade", By: "ops"}, &sl); err != nil || len(sl.Silences) != 1 {
		t.Fatalf("add silence: %v %+v", err, sl)
	}
	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-91", now.Add(-time.Second), now, 0.6)
	e.publishAnomaly(a)
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool {
		return i.Severity == "SEV1"
	}, "SEV1 incident")
	// The page is decided on the notifier's escalation pass: on a loaded
	// host that can take longer than the incident's opening.
	natstest.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(e.timeline(inc.ID), "suppressed by silence maint-1")
	}, "suppression in the timeline")
	if req, _ := e.pd.count("trigger"); req != 0 || inc.Paged {
		t.Fatalf("silenced incident paged (%d)", req)
	}
	if err := e.control(events.VerbNote, events.NoteCommand{ID: "n-1", Incident: inc.ID, Author: "ana", Text: "looking"}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.timeline(inc.ID), "looking") {
		t.Fatal("note missing from the timeline")
	}
	if err := e.control(events.VerbSilence, events.SilenceCommand{Op: events.SilenceExpire, ID: "maint-1"}, &sl); err != nil || len(sl.Silences) != 0 {
		t.Fatalf("expire: %v %+v", err, sl)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { _, n := e.pd.count("trigger"); return n == 1 }, "paged once the silence expired")

	if err := e.control(events.VerbResolve, events.IncidentCommand{ID: "r-1", Incident: inc.ID, By: "ana", Note: "done"}, nil); err != nil {
		t.Fatal(err)
	}
	var ce *events.Error
	if err := e.control(events.VerbAck, events.IncidentCommand{ID: "a-1", Incident: inc.ID}, nil); !errors.As(err, &ce) || ce.Code != events.CodeConflict {
		t.Fatalf("ack after resolve: %v", err)
	}
	var l events.IncidentList
	if err := e.control(events.VerbIncidentList, events.IncidentListRequest{State: "open"}, &l); err != nil || len(l.Incidents) != 0 {
		t.Fatalf("open incidents: %v %+v", err, l)
	}
	var rv events.Review
	natstest.Eventually(t, 10*time.Second, func() bool {
		return e.control(events.VerbReview, events.IncidentRequest{Incident: inc.ID}, &rv) == nil
	}, "review written")
	if rv.AutoHealed || !rv.Paged {
		t.Fatalf("review after a manual resolve: auto %v paged %v", rv.AutoHealed, rv.Paged)
	}
}

func (e *env) timeline(id string) string {
	var inc events.Incident
	if err := e.control(events.VerbIncidentGet, events.IncidentRequest{Incident: id}, &inc); err != nil {
		return ""
	}
	var b strings.Builder
	for _, en := range inc.Timeline {
		b.WriteString(en.Text + "\n")
	}
	return b.String()
}

// FuzzControlRequest decodes arbitrary request bodies as every verb does.
func FuzzControlRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"incident":"inc-1"}`, `{"id":"x","incident":"inc-1","by":"a"}`,
		`{"op":"add","id":"s","node":"gw-[","duration_ms":1000}`, `{"state":"open","limit":-1}`, `[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, cmd := range []events.Command{&events.IncidentListRequest{}, &events.IncidentRequest{}, &events.IncidentCommand{},
			&events.NoteCommand{}, &events.SilenceCommand{}} {
			if err := events.DecodeCommand(b, cmd); err != nil {
				continue
			}
			if c, ok := cmd.(*events.SilenceCommand); ok && c.Op == events.SilenceAdd {
				sl := newSilence(c, time.Now())
				if sl.EndsAt.Before(sl.StartsAt) {
					t.Fatalf("silence ends before it starts: %+v", sl)
				}
			}
		}
	})
}

// A silence added through one replica holds on the others at once, not
// from their next tick: a SEV1 incident opened right after, by whichever
// replica handles its anomaly, is not paged. (Each round has two fresh
// replicas; the silence and the anomaly land on either.)
func TestSilenceHoldsOnEveryReplicaAtOnce(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			e := newEnv(t)
			e.cfg.Tick = time.Hour // no tick refreshes a replica's silences here
			e.start("a")
			e.start("b")
			var sl events.SilenceReply
			if err := e.control(events.VerbSilence, events.SilenceCommand{Op: events.SilenceAdd, ID: "maint", Node: "gw-8*",
				DurationMS: time.Hour.Milliseconds(), By: "ops"}, &sl); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			e.publishAnomaly(nodeAnomaly(events.KindNodeDown, "gw-81", now.Add(-time.Second), now, 0.6))
			inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.Severity == "SEV1" }, "SEV1 incident")
			natstest.Eventually(t, 10*time.Second, func() bool {
				return strings.Contains(e.timeline(inc.ID), "suppressed by silence maint")
			}, "suppression in the timeline")
			if req, _ := e.pd.count("trigger"); req != 0 {
				t.Fatalf("silenced incident paged (%d)", req)
			}
		})
	}
}
