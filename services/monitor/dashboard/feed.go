package dashboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// Feed item levels, from the page's point of view (colors).
const (
	LevelCritical = "critical"
	LevelError    = "error"
	LevelWarning  = "warning"
	LevelInfo     = "info"
	LevelOK       = "ok"
)

// Item is one line of the live event feed.
type Item struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // anomaly, remediation, incident, review, lifecycle, conn, notify
	Level    string    `json:"level"`
	Target   string    `json:"target,omitempty"`
	Text     string    `json:"text"`
	Subject  string    `json:"subject"`
	Incident string    `json:"incident,omitempty"` // for incident and review items
}

// feedSubjects are the events the feed shows.
var feedSubjects = []string{
	events.AnomaliesAll, events.RemediationsAll, events.IncidentsAll,
	events.ReviewsAll, events.NotificationsAll, events.LifecycleAll, events.ConnEventsAll,
}

// subscribe listens to the chart and feed subjects.
func (d *Dashboard) subscribe(nc *nats.Conn) ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	add := func(subject string, h nats.MsgHandler) error {
		s, err := nc.Subscribe(subject, h)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", subject, err)
		}
		subs = append(subs, s)
		return nil
	}
	if err := add(events.HeartbeatsAll, d.onHeartbeat); err != nil {
		return subs, err
	}
	if err := add(events.HealthAll, d.onHealth); err != nil {
		return subs, err
	}
	for _, subject := range feedSubjects {
		if err := add(subject, d.onFeed); err != nil {
			return subs, err
		}
	}
	return subs, nil
}

func (d *Dashboard) onHeartbeat(m *nats.Msg) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		return
	}
	if hb, ok := events.As[*events.Heartbeat](ev); ok {
		d.store.heartbeat(*hb, time.Now())
	}
}

func (d *Dashboard) onHealth(m *nats.Msg) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		return
	}
	if h, ok := events.As[*events.Health](ev); ok {
		hp := d.store.addHealth(*h, time.Now())
		d.hub.broadcast("health", struct {
			Node string `json:"node"`
			healthPoint
		}{h.Node, hp})
	}
}

func (d *Dashboard) onFeed(m *nats.Msg) {
	it, ok := Summarize(m.Data)
	if !ok {
		d.log.Debug().Str("subject", m.Subject).Msg("undecodable event skipped")
		return
	}
	d.store.addItem(it)
	d.hub.broadcast("feed", it)
}

// Summarize turns an event as read from NATS into a feed line; ok is
// false for bytes that are not a valid event or a type the feed skips.
func Summarize(b []byte) (Item, bool) {
	ev, err := events.Decode(b)
	if err != nil {
		return Item{}, false
	}
	it := Item{ID: ev.ID, Time: ev.Time, Subject: ev.Subject}
	switch p := ev.Payload.(type) {
	case *events.Anomaly:
		anomalyItem(&it, p)
	case *events.Remediation:
		it.Kind, it.Target = "remediation", p.Target
		it.Level, it.Text = remediationLine(p)
	case *events.Incident:
		it.Kind, it.Incident, it.Level = "incident", p.ID, incidentLevel(p.State)
		it.Target = strings.Join(p.Nodes, ",")
		it.Text = fmt.Sprintf("%s %s %s (%s): %s", p.ID, p.Severity, p.State, orDash(p.Change), p.Title)
	case *events.Review:
		it.Kind, it.Incident, it.Level = "review", p.IncidentID, LevelOK
		it.Text = withReason("review "+p.IncidentID, p.Summary)
	case *events.Notification:
		notificationItem(&it, p)
	case *events.Lifecycle:
		it.Kind, it.Target, it.Level = "lifecycle", p.Node, LevelInfo
		if p.Phase == events.LifecycleStopping || p.Phase == events.LifecycleDraining {
			it.Level = LevelWarning
		}
		it.Text = lifecycleLine(p)
	case *events.ConnEvent:
		connItem(&it, p)
	default:
		return Item{}, false
	}
	it.Text = strings.TrimSpace(it.Text)
	return it, true
}

func anomalyItem(it *Item, a *events.Anomaly) {
	it.Kind, it.Target, it.Level = "anomaly", a.Target, a.Severity
	if a.State == events.AnomalyResolved {
		it.Level = LevelOK
	}
	it.Text = withReason(fmt.Sprintf("%s %s %s", a.Kind, a.Target, a.State), a.Summary)
}

func notificationItem(it *Item, n *events.Notification) {
	it.Kind, it.Incident, it.Level = "notify", n.IncidentID, LevelInfo
	if n.Status == "failed" {
		it.Level = LevelError
	}
	it.Text = fmt.Sprintf("%s %s via %s: %s", n.Action, n.IncidentID, n.Sink, words(n.Status, n.Error))
}

func connItem(it *Item, c *events.ConnEvent) {
	it.Kind, it.Target, it.Level = "conn", c.Node, LevelInfo
	it.Text = words(c.Node, c.Kind, c.ConnID, c.Detail)
	if c.Suppressed > 0 {
		it.Text += fmt.Sprintf(" (+%d suppressed)", c.Suppressed)
	}
}

func remediationLine(r *events.Remediation) (level, text string) {
	switch r.Phase {
	case events.PhaseSucceeded:
		level = LevelOK
	case events.PhaseFailed:
		level = LevelError
	case events.PhaseSkipped:
		level = LevelWarning
	default:
		level = LevelInfo
	}
	text = fmt.Sprintf("%s %s %s", r.Action, r.Target, r.Phase)
	if r.Attempt > 1 {
		text += fmt.Sprintf(" (attempt %d)", r.Attempt)
	}
	if r.DryRun {
		text += " [dry-run]"
	}
	text = withReason(text, r.Reason)
	if r.Detail != "" {
		text += " — " + r.Detail
	}
	return level, text
}

func incidentLevel(state string) string {
	switch state {
	case events.IncidentTriggered:
		return LevelCritical
	case events.IncidentAcknowledged:
		return LevelWarning
	case events.IncidentMitigated:
		return LevelInfo
	case events.IncidentResolved:
		return LevelOK
	}
	return LevelInfo
}

func lifecycleLine(l *events.Lifecycle) string {
	s := l.Node + " " + l.Phase
	if l.Phase == events.LifecycleDraining || l.Phase == events.LifecycleDrained {
		s += fmt.Sprintf(" (moved %d, remaining %d)", l.Moved, l.Remaining)
	}
	return withReason(s, l.Reason)
}

// withReason appends ": why" when there is a why.
func withReason(s, why string) string {
	if why == "" {
		return s
	}
	return s + ": " + why
}

// words joins the non-empty words with spaces.
func words(ws ...string) string {
	out := ws[:0:0]
	for _, w := range ws {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
