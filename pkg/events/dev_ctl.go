package events

// Dev supervisor verbs, under ControlGroup(ServiceDev).
const (
	VerbRestart = "restart"
	VerbList    = "list"
	VerbNATS    = "nats"
)

// RestartCommand asks the supervisor (or, in compose, the Docker engine
// through the healer) to restart a process: a gateway node id, or under
// the dev supervisor also a control-plane replica such as healer-1.
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

// NATS operations of the dev supervisor's embedded cluster.
const (
	NATSStop  = "stop"
	NATSStart = "start"
	NATSList  = "list"
)

// NATSCommand stops or starts one server of `wsheal dev --nats-cluster 3`
// (n1, n2, n3), to lose a NATS node for real, or lists them.
type NATSCommand struct {
	Op   string `json:"op"`
	Node string `json:"node,omitempty"`
}

// Validate implements Command.
func (c *NATSCommand) Validate() error {
	switch c.Op {
	case NATSList:
		return nil
	case NATSStop, NATSStart:
		if c.Node == "" {
			return missing("node")
		}
		return ValidateToken(c.Node)
	case "":
		return missing("op")
	}
	return invalid("op", "%q, want stop, start or list", c.Op)
}

// NATSReply says which servers run after the command.
type NATSReply struct {
	Running map[string]bool `json:"running"`
	URLs    string          `json:"urls"`
}
