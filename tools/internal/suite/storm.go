package suite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The resume storm: StormClients clients on one gateway, on StormChannels
// channels, go offline together (their positions kept, as a fleet of
// phones losing the network); StormGap messages are published on every
// channel meanwhile; then every client resumes at once. Measured: the
// time from the resume until every client is subscribed again and until
// every client has the whole gap (live), the gateway's memory before and
// at its peak, and the messages lost of those accepted. wsheal alone:
// the figure is about the gateway's replay path under a storm.

// ErrStorm wraps a failure of the resume storm.
var ErrStorm = errors.New("suite: resume storm")

// Storm is the result of the resume storm.
type Storm struct {
	Clients  int `json:"clients"`
	Channels int `json:"channels"`
	Gap      int `json:"gap"` // messages each client missed

	SubscribedMS float64 `json:"subscribed_ms"` // resume to every client subscribed again
	LiveMS       float64 `json:"live_ms"`       // resume to every client holding the whole gap
	RSSBeforeMiB float64 `json:"rss_before_mib"`
	RSSPeakMiB   float64 `json:"rss_peak_mib"`
	PeakFrom     string  `json:"peak_from"` // VmHWM (reset before the storm) or sampled VmRSS
	// GatewayCPUS is the gateway's CPU time from the resume until every
	// client was live: against LiveMS, how much of the storm the gateway
	// itself took (the clients, on the same machine, take the rest).
	GatewayCPUS float64 `json:"gateway_cpu_s"`

	Accepted    int    `json:"accepted"`
	Delivered   uint64 `json:"delivered"`
	Lost        uint64 `json:"lost"`
	Duplicated  uint64 `json:"duplicated"`
	Unrecovered uint64 `json:"unrecovered"`

	Error string `json:"error,omitempty"`
}

// storm runs the resume storm once.
func (r *runner) storm(ctx context.Context) *Storm {
	p := r.p
	st := &Storm{Clients: p.StormClients, Channels: p.StormChannels, Gap: p.StormGap}
	if err := r.runStorm(ctx, st); err != nil {
		st.Error = err.Error()
		r.logf("resume storm: %v", err)
	}
	return st
}

func (r *runner) runStorm(ctx context.Context, st *Storm) error {
	p := r.p
	r.dropChannels(ctx)
	srv, err := r.startKind(ctx, ProtoWsheal)
	if err != nil {
		return err
	}
	defer srv.kill()
	fleet, err := r.openResuming(ctx, resumingFleet{kind: ProtoWsheal, urls: []string{srv.ready.WS},
		srcs: r.freshSources(p.StormWorkers), n: p.StormClients, prefix: "st-", channels: p.StormChannels,
		dialRate: p.HealDialRate})
	if err != nil {
		return err
	}
	defer fleet.ws.stop()
	if err := fleet.each(ctx, Command{Op: "rspause"}); err != nil {
		return err
	}
	channels := make([]string, p.StormChannels)
	for i := range channels {
		channels[i] = "st-" + strconv.Itoa(i)
	}
	r.logf("resume storm: %d clients offline; publishing %d messages on each of %d channels", p.StormClients, p.StormGap, len(channels))
	accepted, err := r.publishGap(ctx, channels, p.StormGap)
	if err != nil {
		return err
	}
	targets := map[string]uint64{}
	for ch, ns := range accepted {
		st.Accepted += len(ns)
		if len(ns) > 0 {
			targets[ch] = ns[len(ns)-1]
		}
	}
	time.Sleep(p.Settle)
	before, err := RSS(srv.pid())
	if err != nil {
		return err
	}
	st.RSSBeforeMiB = float64(before) / (1 << 20)
	hwm := resetPeak(srv.pid()) == nil
	sampled := before

	stopProfile := func() {}
	if r.opts.ProfileDir != "" {
		stopProfile = r.profile(ctx, srv, "storm", 10*time.Second)
	}
	defer stopProfile()
	cpu0, _ := CPUTime(srv.pid())
	resume := time.Now()
	if err := fleet.each(ctx, Command{Op: "rsresume"}); err != nil {
		return err
	}
	deadline := resume.Add(2 * time.Minute)
	for {
		again, caught, last := 0, 0, int64(0)
		for _, w := range fleet.ws {
			// A worker's clients take in a million messages or more
			// here: its answer may wait for the CPU.
			rep, err := w.call(ctx, Command{Op: "rsback", Since: resume.UnixNano(), Targets: targets}, time.Minute)
			if err != nil {
				return err
			}
			again, caught, last = again+rep.OK, caught+rep.Caught, max(last, rep.LastAt)
		}
		if v, err := RSS(srv.pid()); err == nil {
			sampled = max(sampled, v)
		}
		if again == p.StormClients && caught == p.StormClients {
			st.LiveMS = float64(time.Unix(0, last).Sub(resume).Milliseconds())
			if cpu1, err := CPUTime(srv.pid()); err == nil && cpu0 > 0 {
				st.GatewayCPUS = (cpu1 - cpu0).Seconds()
			}
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w: after 2 minutes %d of %d clients subscribed again, %d hold the whole gap",
				ErrStorm, again, p.StormClients, caught)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, _, last, _, err := fleet.backTimes(ctx, resume)
	if err != nil {
		return err
	}
	st.SubscribedMS = float64(last.Milliseconds())
	st.PeakFrom = "sampled VmRSS"
	if peak, err := PeakRSS(srv.pid()); hwm && err == nil {
		sampled, st.PeakFrom = peak, "VmHWM"
	}
	st.RSSPeakMiB = float64(sampled) / (1 << 20)
	sum, err := fleet.settle(ctx, accepted, 10*time.Second)
	if err != nil {
		return err
	}
	st.Delivered, st.Lost, st.Duplicated, st.Unrecovered = sum.Delivered, sum.Lost, sum.Dup, sum.Unrecovered
	r.logf("resume storm: all %d subscribed again %.0f ms and live %.0f ms after the resume (gateway CPU %.1f s); gateway %.0f MiB before, %.0f MiB at the peak (%s); accepted %d, delivered %d, lost %d, duplicated %d, not recovered %d",
		p.StormClients, st.SubscribedMS, st.LiveMS, st.GatewayCPUS, st.RSSBeforeMiB, st.RSSPeakMiB, st.PeakFrom,
		st.Accepted, st.Delivered, st.Lost, st.Duplicated, st.Unrecovered)
	return nil
}

// each sends c to every worker at once and waits for every answer.
func (rw *restartWorkers) each(ctx context.Context, c Command) error {
	errs := make(chan error, len(rw.ws))
	for _, w := range rw.ws {
		go func() {
			_, err := w.call(ctx, c, time.Minute)
			errs <- err
		}()
	}
	var first error
	for range rw.ws {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// publishGap publishes gap messages on each channel through JetStream,
// numbered "r<n>" round robin over the channels, and returns the numbers
// JetStream acknowledged, per channel in order.
func (r *runner) publishGap(ctx context.Context, channels []string, gap int) (map[string][]uint64, error) {
	js, err := jetstream.New(r.pub, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, fmt.Errorf("%w: jetstream: %v", ErrStorm, err)
	}
	type sent struct {
		ch  string
		n   uint64
		ack jetstream.PubAckFuture
	}
	all := make([]sent, 0, gap*len(channels))
	for i := range gap * len(channels) {
		ch := channels[i%len(channels)]
		n := uint64(i + 1)
		f, err := js.PublishAsync(subject(ch), []byte(`"r`+strconv.FormatUint(n, 10)+`"`), jetstream.WithStallWait(30*time.Second))
		if err != nil {
			return nil, fmt.Errorf("%w: publish: %v", ErrStorm, err)
		}
		all = append(all, sent{ch, n, f})
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return nil, fmt.Errorf("%w: %d publishes unacknowledged after a minute", ErrStorm, js.PublishAsyncPending())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	accepted := map[string][]uint64{}
	refused := 0
	for _, s := range all {
		select {
		case <-s.ack.Ok():
			accepted[s.ch] = append(accepted[s.ch], s.n)
		default:
			refused++
		}
	}
	if refused > 0 {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("resume storm: %d of %d gap publishes not acknowledged (not counted)", refused, len(all)))
	}
	for ch := range accepted {
		slices.Sort(accepted[ch])
	}
	return accepted, nil
}

// resetPeak resets the process's peak RSS (VmHWM) to its current RSS.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
