package clientcases

import (
	"fmt"
	"strconv"
	"time"
)

func (r *runner) expect(s Step) error {
	deadline := time.Now().Add(wait)
	var last error
	for {
		last = r.check(s)
		if last == nil || time.Now().After(deadline) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check tests one expectation against the record now.
func (r *runner) check(s Step) error {
	msgs, states, gaps := r.rec.Snapshot(s.Channel)
	switch s.Expect {
	case "messages":
		return inOrder(msgs, s.Count, s.GapAfter)
	case "no_gap":
		if len(gaps) > 0 {
			return fmt.Errorf("gaps %v", gaps)
		}
		return nil
	case "gap":
		for _, g := range gaps {
			if g.Channel == s.Channel && g.NewEpoch == s.NewEpoch {
				return nil
			}
		}
		return fmt.Errorf("no gap on %s (new epoch %v): %v", s.Channel, s.NewEpoch, gaps)
	case "moved":
		return r.moved(states, s.Hinted)
	case "closed":
		for _, st := range states {
			if st.State == "closed" && st.Code == s.Code {
				return nil
			}
		}
		return fmt.Errorf("not closed with %d", s.Code)
	case "connections":
		n := 0
		for _, st := range states {
			if st.State == "connected" {
				n++
			}
			if st.State == "closed" {
				return fmt.Errorf("client closed")
			}
		}
		if n < s.Min || (s.Max > 0 && n > s.Max) {
			return fmt.Errorf("%d connections, want [%d, %d]", n, s.Min, s.Max)
		}
		return nil
	}
	return fmt.Errorf("unknown expectation %q", s.Expect)
}

// inOrder: the data delivered are exactly 1..n, in order; with gapAfter
// k > 0, 1..k then a contiguous run ending at n.
func inOrder(msgs []Message, n, gapAfter int) error {
	want := 1
	for i, m := range msgs {
		got, err := strconv.Atoi(string(m.Data))
		if err != nil {
			return fmt.Errorf("message %d: data %s", i+1, m.Data)
		}
		if gapAfter > 0 && i == gapAfter && got > want {
			want = got // the gap
		}
		if got != want {
			return fmt.Errorf("message %d is %d (seq %d), want %d", i+1, got, m.Seq, want)
		}
		want++
	}
	if want-1 != n {
		return fmt.Errorf("%d messages, the last %d, want up to %d", len(msgs), want-1, n)
	}
	return nil
}

// moved: since the mark the client connected to another node, and a
// reconnecting state said whether the server asked for it.
func (r *runner) moved(states []State, hinted bool) error {
	after := states[r.mark:]
	sawHint := false
	for _, st := range after {
		if st.State == "reconnecting" && st.Hinted {
			sawHint = true
		}
		if st.State == "connected" && st.Node != r.from {
			if sawHint != hinted {
				return fmt.Errorf("moved to %s, hinted %v, want %v", st.Node, sawHint, hinted)
			}
			return nil
		}
	}
	return fmt.Errorf("not moved off %s", r.from)
}
