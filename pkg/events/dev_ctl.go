package events

// Dev supervisor verbs, under ControlGroup(ServiceDev).
const (
	VerbRestart = "restart"
	VerbList    = "list"
)

// RestartCommand asks the supervisor (or, in compose, the Docker engine
// through the healer) to restart a node's process.
type RestartCommand struct {
	ID   string `json:"id"`
	Node string `json:"node"`
}

// Validate implements Command.
func (c *RestartCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if c.Node == "" {
		return missing("node")
	}
	if err := ValidateToken(c.Node); err != nil {
		return invalid("node", "%v", err)
	}
	return nil
}

// Process is one child process of the dev supervisor.
type Process struct {
	Name    string `json:"name"` // node id or service name
	Service string `json:"service"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Exit    string `json:"exit,omitempty"` // how it last ended
	URL     string `json:"url,omitempty"`
}

// RestartReply reports the new process.
type RestartReply struct {
	Process Process `json:"process"`
}

// ProcessList is the supervisor's list reply.
type ProcessList struct {
	Processes []Process `json:"processes"`
}
