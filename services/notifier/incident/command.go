package incident

import (
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// ack acknowledges the incident: escalation stops and every paged sink
// hears of it.
func (r *Record) ack(c *events.IncidentCommand, now time.Time) (bool, error) {
	if r.seen("cmd:" + c.ID) {
		return false, nil
	}
	if r.State == events.IncidentResolved {
		return false, ErrResolved
	}
	if !r.AckedAt.IsZero() {
		return false, nil
	}
	r.AckedAt = now.UTC()
	r.note(events.TimelineEntry{Time: now, Kind: "ack", Ref: c.ID, Author: c.By, Text: withNote("acknowledged", c.Note)})
	if r.State == events.IncidentTriggered {
		r.setState(events.IncidentAcknowledged, now)
	}
	r.Change = "acknowledged"
	r.Track.NextLevelAt, r.Track.NextRepeatAt = time.Time{}, time.Time{}
	if r.Paged {
		r.queue(sink.ActionAcknowledge, r.Track.PagedSinks, "acknowledged by "+by(c.By), now)
	}
	return true, nil
}

// resolve resolves the incident by hand.
func (r *Record) resolve(c *events.IncidentCommand, now time.Time) (bool, error) {
	if r.seen("cmd:" + c.ID) {
		return false, nil
	}
	if r.State == events.IncidentResolved {
		return false, nil
	}
	r.note(events.TimelineEntry{Time: now, Kind: "state", Ref: c.ID, Author: c.By, Text: withNote("resolved by hand", c.Note)})
	r.ResolvedAt = now.UTC()
	r.Track.ManualResolve = true
	r.Track.HealDeadline = time.Time{}
	r.setState(events.IncidentResolved, now)
	r.Change = "resolved"
	return true, nil
}

// addNote adds a note to the timeline.
func (r *Record) addNote(c *events.NoteCommand, now time.Time) bool {
	if r.seen("cmd:" + c.ID) {
		return false
	}
	r.note(events.TimelineEntry{Time: now, Kind: "note", Ref: c.ID, Author: c.Author, Text: c.Text})
	r.Change = "note"
	return true
}

// addOutcome records a notification outcome reported by the outbox.
func (r *Record) addOutcome(n *events.Notification, msgID string, at time.Time) bool {
	if r.seen("out:" + msgID) {
		return false
	}
	text := n.Action + " to " + n.Sink + ": " + n.Status
	if n.Error != "" {
		text += " (" + n.Error + ")"
	}
	r.note(events.TimelineEntry{Time: at, Kind: "notification", Ref: msgID, Text: text})
	r.Change = "notification_" + n.Status
	return true
}

func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + ": " + note
}

func by(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
