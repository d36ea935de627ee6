package events

import "time"

// Notifier control verbs, under ControlGroup(ServiceNotifier).
const (
	VerbIncidentList = "list"
	VerbIncidentGet  = "get"
	VerbAck          = "ack"
	VerbResolve      = "resolve"
	VerbNote         = "note"
	VerbSilence      = "silence"
	VerbReview       = "review"
)

// MaxNoteLength bounds the text of a note or a comment.
const MaxNoteLength = 4096

// IncidentListRequest lists incidents, newest first.
type IncidentListRequest struct {
	State string `json:"state,omitempty"` // triggered, acknowledged, mitigated, resolved, or "open" for all but resolved
	Limit int    `json:"limit,omitempty"` // at most this many (default 50)
}

// Validate implements Command.
func (r *IncidentListRequest) Validate() error {
	switch r.State {
	case "", "open", IncidentTriggered, IncidentAcknowledged, IncidentMitigated, IncidentResolved:
	default:
		return invalid("state", "%q, want open, triggered, acknowledged, mitigated or resolved", r.State)
	}
	if r.Limit < 0 {
		return invalid("limit", "negative")
	}
	return nil
}

// IncidentList is the reply to list: incidents without their timelines.
type IncidentList struct {
	Incidents []Incident `json:"incidents"`
}

// IncidentRequest names one incident (get, review).
type IncidentRequest struct {
	Incident string `json:"incident"`
}

// Validate implements Command.
func (r *IncidentRequest) Validate() error { return needIncident(r.Incident) }

// IncidentCommand acknowledges (ack) or resolves (resolve) an incident by
// hand. The id makes it idempotent: the same id twice is done once.
type IncidentCommand struct {
	ID       string `json:"id"`
	Incident string `json:"incident"`
	By       string `json:"by,omitempty"` // who: a person or a tool
	Note     string `json:"note,omitempty"`
}

// Validate implements Command.
func (c *IncidentCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if err := needIncident(c.Incident); err != nil {
		return err
	}
	if len(c.Note) > MaxNoteLength {
		return invalid("note", "longer than %d bytes", MaxNoteLength)
	}
	return nil
}

// NoteCommand adds a note to an incident's timeline.
type NoteCommand struct {
	ID       string `json:"id"`
	Incident string `json:"incident"`
	Author   string `json:"author,omitempty"`
	Text     string `json:"text"`
}

// Validate implements Command.
func (c *NoteCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if err := needIncident(c.Incident); err != nil {
		return err
	}
	switch {
	case c.Text == "":
		return missing("text")
	case len(c.Text) > MaxNoteLength:
		return invalid("text", "longer than %d bytes", MaxNoteLength)
	}
	return nil
}

// Silence operations.
const (
	SilenceAdd    = "add"
	SilenceExpire = "expire"
	SilenceList   = "list"
)

// Silence mutes pages of incidents whose every anomaly matches it, from
// StartsAt until EndsAt: a maintenance window. Empty matchers match
// anything; matchers are shell patterns (path.Match), e.g. "gw-*".
type Silence struct {
	ID        string    `json:"id"`
	Node      string    `json:"node,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Comment   string    `json:"comment,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// SilenceCommand adds (Op add), expires (Op expire) or lists (Op list)
// silences. An added silence needs EndsAt or DurationMS (at most 30 days);
// StartsAt defaults to now. ID names the silence for add and expire.
type SilenceCommand struct {
	Op         string    `json:"op"`
	ID         string    `json:"id,omitempty"`
	Node       string    `json:"node,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	StartsAt   time.Time `json:"starts_at,omitzero"`
	EndsAt     time.Time `json:"ends_at,omitzero"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	By         string    `json:"by,omitempty"`
}

// MaxSilence is the longest silence.
const MaxSilence = 30 * 24 * time.Hour

// Validate implements Command.
func (c *SilenceCommand) Validate() error {
	switch c.Op {
	case SilenceList:
		return nil
	case SilenceExpire:
		return NeedID(c.ID)
	case SilenceAdd:
	case "":
		return missing("op")
	default:
		return invalid("op", "%q, want add, expire or list", c.Op)
	}
	if err := NeedID(c.ID); err != nil {
		return err
	}
	switch {
	case c.DurationMS < 0 || c.DurationMS > MaxSilence.Milliseconds():
		return invalid("duration_ms", "%d, want 1..%d", c.DurationMS, MaxSilence.Milliseconds())
	case c.DurationMS == 0 && c.EndsAt.IsZero():
		return invalid("ends_at", "give ends_at or duration_ms")
	case !c.EndsAt.IsZero() && !c.StartsAt.IsZero() && !c.EndsAt.After(c.StartsAt):
		return invalid("ends_at", "not after starts_at")
	case len(c.Comment) > MaxNoteLength:
		return invalid("comment", "longer than %d bytes", MaxNoteLength)
	case len(c.Node) > 128 || len(c.Kind) > 128:
		return invalid("matcher", "longer than 128 bytes")
	}
	return nil
}

// SilenceReply lists the silences in force (or the one just changed).
type SilenceReply struct {
	Silences []Silence `json:"silences"`
}

func needIncident(id string) error {
	if id == "" {
		return missing("incident")
	}
	if err := ValidateToken(id); err != nil {
		return invalid("incident", "%v", err)
	}
	return nil
}

// NotifierStatus is the notifier's reply to status.
type NotifierStatus struct {
	Service   string    `json:"service"`
	Instance  string    `json:"instance"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Sinks     []string  `json:"sinks"`
	Open      int       `json:"open_incidents"`
}
