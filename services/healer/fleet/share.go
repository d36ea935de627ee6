package fleet

// Share summarizes a snapshot for the safety checks.
type Share struct {
	Nodes     int // known nodes
	Unhealthy int // silent beyond the staleness window
	Out       int // unhealthy or draining
	Accepting int // healthy and not draining
}

// Count summarizes nodes.
func Count(nodes []Node) Share {
	s := Share{Nodes: len(nodes)}
	for _, n := range nodes {
		if !n.Healthy {
			s.Unhealthy++
		}
		if !n.Accepting() {
			s.Out++
		} else {
			s.Accepting++
		}
	}
	return s
}

// UnhealthyShare is the share of known nodes that are silent, 0 when none known.
func (s Share) UnhealthyShare() float64 {
	if s.Nodes == 0 {
		return 0
	}
	return float64(s.Unhealthy) / float64(s.Nodes)
}

// Balance returns max/mean of connections over accepting nodes, and the
// mean; 1 when fewer than two nodes accept or none holds a connection.
func Balance(nodes []Node) (ratio, mean float64) {
	total, most, n := 0, 0, 0
	for _, x := range nodes {
		if !x.Accepting() {
			continue
		}
		n++
		total += x.Connections
		most = max(most, x.Connections)
	}
	if n < 2 || total == 0 {
		return 1, float64(total) / float64(max(n, 1))
	}
	mean = float64(total) / float64(n)
	return float64(most) / mean, mean
}
