package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/tools/internal/bench"
)

// healNodes is how many gateways the healing figure runs.
const healNodes = 3

// healing runs figure 5: HealClients bench clients (pkg/client, which
// resumes with since) on three gateways, one killed with SIGKILL while
// messages flow.
func (r *runner) healing(ctx context.Context) Healing {
	p := r.p
	h := Healing{Clients: p.HealClients, Nodes: healNodes}
	var nodes []*serverProc
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	for range healNodes {
		n, err := r.startKind(ctx, ProtoWsheal)
		if err != nil {
			h.Error = err.Error()
			return h
		}
		nodes = append(nodes, n)
	}
	cfg := bench.Config{Token: r.jwt, Clients: p.HealClients, Channels: p.HealChannels, Rate: p.HealRate,
		Duration: p.HealDuration, Size: payloadSize, DialRate: p.HealDialRate, Drain: 10 * time.Second,
		SourceAddrs: r.freshSources(8)}
	for _, n := range nodes {
		cfg.URLs = append(cfg.URLs, n.ready.WS)
	}
	publishers := min(max(int((p.HealRate+bench.PublisherRate-1)/bench.PublisherRate), 1), p.HealChannels)
	type result struct {
		rep *bench.Report
		err error
	}
	done := make(chan result, 1)
	r.logf("healing: %d clients on %d nodes", p.HealClients, healNodes)
	go func() {
		rep, err := bench.Run(ctx, cfg, nil)
		done <- result{rep, err}
	}()
	kill, err := r.killWhenFull(ctx, nodes, p.HealClients+publishers, &h)
	if err != nil {
		h.Error = err.Error()
	}
	res := <-done
	if res.err != nil {
		h.Error = res.err.Error()
		return h
	}
	rep := res.rep
	h.ReconnectMaxMS, h.ReconnectP50MS, h.Reconnects = rep.ReconnectMaxMS, rep.ReconnectP50MS, rep.Reconnects
	h.Delivered, h.Lost, h.Duplicated, h.OutOfOrder = rep.Delivered, rep.Lost, rep.Duplicated, rep.OutOfOrder
	h.Met = kill && h.Error == "" && h.AllBackMS <= 3000 && h.ReconnectMaxMS <= 3000 &&
		h.Lost == 0 && h.Duplicated == 0 && rep.ConnectionsHeld >= p.HealClients
	r.logf("healing: all back in %.0f ms, reconnect max %.0f ms, lost %d, duplicated %d, peak accept %.0f/s",
		h.AllBackMS, h.ReconnectMaxMS, h.Lost, h.Duplicated, h.PeakAcceptPerS)
	return h
}

// killWhenFull waits until the nodes hold want connections and messages
// flow, kills the first node, then follows the survivors until they hold
// every client again. It reports whether the kill happened.
func (r *runner) killWhenFull(ctx context.Context, nodes []*serverProc, want int, h *Healing) (bool, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		total, err := sumMetric(nodes, "wsheal_gateway_connections")
		if err == nil && total >= float64(want) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, fmt.Errorf("suite: healing: %.0f of %d connections after the ramp", total, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(r.p.HealKillAfter) // publishing is under way
	victim, survivors := nodes[0], nodes[1:]
	if c, err := sumMetric([]*serverProc{victim}, "wsheal_gateway_connections"); err == nil {
		h.KilledConns = int(c)
	}
	accepts := newAcceptSampler(survivors)
	_ = accepts.sample()
	t0 := time.Now()
	victim.kill()
	r.logf("healing: killed node with %d connections", h.KilledConns)
	for time.Since(t0) < 30*time.Second && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if accepts.sample() != nil {
			continue
		}
		h.PeakAcceptPerS = accepts.peak
		if conns, err := sumMetric(survivors, "wsheal_gateway_connections"); err == nil && conns >= float64(want) {
			h.AllBackMS = float64(time.Since(t0).Milliseconds())
			return true, nil
		}
	}
	return true, errors.New("suite: healing: the survivors did not hold every client within 30 s")
}

// sumMetric adds a Prometheus gauge or counter over the nodes' /metrics.
func sumMetric(nodes []*serverProc, name string) (float64, error) {
	var sum float64
	client := &http.Client{Timeout: 10 * time.Second} // a node under a storm may answer late
	for _, n := range nodes {
		resp, err := client.Get(metricsURL(n))
		if err != nil {
			return 0, fmt.Errorf("suite: metrics: %w", err)
		}
		v, err := metricValue(resp.Body, name)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// metricsURL is the /metrics address of a wsheal gateway.
func metricsURL(n *serverProc) string {
	return strings.Replace(strings.TrimSuffix(n.ready.WS, "/ws"), "ws://", "http://", 1) + "/metrics"
}

// metricValue finds an unlabelled sample in the text exposition format.
func metricValue(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("suite: metric %s not found", name)
}

// dropChannels deletes the channel stream so that a reference's round
// does not pay for JetStream storing the publishes (a gateway's start
// creates it again).
func (r *runner) dropChannels(ctx context.Context) {
	js, err := jetstream.New(r.pub)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, events.StreamChannels)
}

// profile takes a CPU profile of srv for d in the background and a heap
// (allocs) profile after it; the returned func waits for both.
func (r *runner) profile(ctx context.Context, srv *serverProc, name string, d time.Duration) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		secs := max(int(d.Seconds()), 1)
		cpu := filepath.Join(r.opts.ProfileDir, "wsheal-"+name+"-cpu.pprof")
		if err := fetch(ctx, srv.ready.Pprof+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), cpu); err != nil {
			r.logf("profile: %v", err)
			return
		}
		allocs := filepath.Join(r.opts.ProfileDir, "wsheal-"+name+"-allocs.pprof")
		if err := fetch(ctx, srv.ready.Pprof+"/debug/pprof/allocs", allocs); err != nil {
			r.logf("profile: %v", err)
			return
		}
		r.res.Profiles = append(r.res.Profiles, cpu, allocs)
	}()
	return func() { <-done }
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
