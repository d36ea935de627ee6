package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/natskit/embedded"
)

// Options of a suite run.
type Options struct {
	// Quick scales everything down (for tests): hundreds of connections,
	// sub-second phases, one round.
	Quick bool
	// Rounds of the alternating measurements (default 3; quick: 1).
	Rounds int
	// OutDir, if set, receives bench-<date>.md/.json and latest.md/.json.
	OutDir string
	// ProfileDir, if set, receives CPU and heap profiles of the wsheal
	// gateway taken under fan-out in the first round.
	ProfileDir string
	// Exec starts the child processes (default SelfExec).
	Exec Exec
	// Log receives progress lines (default: discarded).
	Log io.Writer
	// SkipHealing leaves out figure 5.
	SkipHealing bool
	// SkipRestart leaves out the restart figure (wsheal and Centrifugo
	// only).
	SkipRestart bool
	// SkipChannels leaves out the channel-scale figures (20,000 distinct
	// channels on one node, 50,000 over three).
	SkipChannels bool
	// Only, if set, runs these parts alone: "servers" (idle memory,
	// accept rate, fan-out, latency), "channels", "healing", "restart",
	// "fleet", "storm".
	Only []string
	// Servers limits the servers measured (default Servers: all five);
	// ratios to a server left out show as "–".
	Servers []string
	// Centrifugo is the Centrifugo binary (default DefaultCentrifugo);
	// when the default is missing, Centrifugo is left out with a note.
	Centrifugo string
}

// params are the sizes of one run.
type params struct {
	Idle1, Idle2  int // connections of the idle-memory figure
	FanSmall      int // clients of the small fan-out
	Channels      int // channels of the many-channels fan-out
	WorkersA      int // workers holding the first Idle1 connections
	WorkersB      int // workers adding Idle2-Idle1
	Settle        time.Duration
	Warm, FanDur  time.Duration
	LatDur        time.Duration
	Window        int // frames in flight during fan-out
	HealClients   int
	HealChannels  int
	HealRate      float64
	HealDuration  time.Duration
	HealDialRate  float64
	HealKillAfter time.Duration
	// The restart figure: clients over channels, publishes per second,
	// and how long messages flow before the kill and after the resume.
	RestartClients, RestartChannels int
	RestartRate                     float64
	RestartBefore, RestartAfter     time.Duration
	// The fleet figure: clients over nodes (FleetVictim of them on the
	// node killed), channels, publishes per second, each node's
	// connection cap, the client workers, the ramp's dial rate, and how
	// long messages flow before the kill and after the resume.
	FleetNodes, FleetClients, FleetVictim int
	FleetChannels, FleetCap, FleetWorkers int
	FleetRate, FleetDialRate              float64
	FleetKillAfter, FleetAfter            time.Duration
	// The resume storm: clients over channels and workers, and the
	// messages each client misses while offline.
	StormClients, StormChannels, StormWorkers, StormGap int
}

func paramsFor(quick bool) params {
	if quick {
		return params{Idle1: 120, Idle2: 180, FanSmall: 40, Channels: 10, WorkersA: 2, WorkersB: 1,
			Settle: 300 * time.Millisecond, Warm: 200 * time.Millisecond, FanDur: 500 * time.Millisecond,
			LatDur: 500 * time.Millisecond, Window: 10000,
			HealClients: 60, HealChannels: 6, HealRate: 30, HealDuration: 4 * time.Second,
			HealDialRate: 300, HealKillAfter: time.Second,
			RestartClients: 120, RestartChannels: 6, RestartRate: 40, RestartBefore: time.Second, RestartAfter: time.Second,
			FleetNodes: 3, FleetClients: 300, FleetVictim: 120, FleetChannels: 12, FleetCap: 250, FleetWorkers: 2,
			FleetRate: 40, FleetDialRate: 600, FleetKillAfter: time.Second, FleetAfter: time.Second,
			StormClients: 120, StormChannels: 6, StormWorkers: 2, StormGap: 50}
	}
	return params{Idle1: 10000, Idle2: 19000, FanSmall: 1000, Channels: 100, WorkersA: 2, WorkersB: 2,
		Settle: 2 * time.Second, Warm: 500 * time.Millisecond, FanDur: 3 * time.Second,
		LatDur: 3 * time.Second, Window: 200000,
		HealClients: 10000, HealChannels: 100, HealRate: 200, HealDuration: 10 * time.Second,
		HealDialRate: 2500, HealKillAfter: 2 * time.Second,
		RestartClients: 10000, RestartChannels: 100, RestartRate: 100, RestartBefore: 3 * time.Second, RestartAfter: 2 * time.Second,
		// Seven gateways: 100,000 over six would leave each survivor of
		// the kill at 20,000 connections, the open-files limit of a
		// process here.
		FleetNodes: 7, FleetClients: 100000, FleetVictim: 17000, FleetChannels: 1000, FleetCap: 18000, FleetWorkers: 7,
		FleetRate: 200, FleetDialRate: 5000, FleetKillAfter: 2 * time.Second, FleetAfter: 2 * time.Second,
		StormClients: 10000, StormChannels: 100, StormWorkers: 4, StormGap: 1000}
}

// runner is one suite run in progress.
type runner struct {
	opts    Options
	p       params
	log     io.Writer
	res     *Results
	broker  *server.Server
	pub     *nats.Conn // publisher on the broker
	dir     string
	secret  string
	jwt     string
	token   string // NATS reference
	apiKey  string // Centrifugo's HTTP API
	cfJWT   string // Centrifugo's clients
	nodes   int    // gateway node names used
	srcMu   sync.Mutex
	nextSrc int // the next of freshSources
	// progress is signalled by every worker tick.
	progress chan struct{}
}

// Run runs the suite and returns its results (also saved under
// opts.OutDir when set). The Markdown table goes to out.
func Run(ctx context.Context, opts Options, out io.Writer) (*Results, error) {
	start := time.Now()
	r, err := newRunner(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	r.res.ElapsedS = time.Since(start).Seconds()
	r.res.finish()
	if out != nil {
		fmt.Fprint(out, r.res.Markdown())
	}
	if opts.OutDir != "" {
		paths, err := r.res.Save(opts.OutDir)
		if err != nil {
			return r.res, err
		}
		r.logf("saved %v", paths)
	}
	return r.res, nil
}

func newRunner(opts Options) (*runner, error) {
	if opts.Rounds <= 0 {
		opts.Rounds = 3
		if opts.Quick {
			opts.Rounds = 1
		}
	}
	if opts.Exec == nil {
		ex, err := SelfExec()
		if err != nil {
			return nil, err
		}
		opts.Exec = ex
	}
	var notes []string
	if len(opts.Servers) == 0 {
		opts.Servers = Servers
		if opts.Centrifugo == "" {
			if _, err := os.Stat(DefaultCentrifugo()); err != nil {
				opts.Servers = without(Servers, ProtoCentrifugo)
				notes = append(notes, fmt.Sprintf("Centrifugo not measured: no binary at %s (make centrifugo)", DefaultCentrifugo()))
			}
		}
	}
	if opts.Centrifugo == "" {
		opts.Centrifugo = DefaultCentrifugo()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	for _, part := range opts.Only {
		if !slices.Contains(Parts, part) {
			return nil, fmt.Errorf("suite: unknown part %q (want %s)", part, strings.Join(Parts, ", "))
		}
	}
	r := &runner{opts: opts, p: paramsFor(opts.Quick), log: opts.Log, progress: make(chan struct{}, 1)}
	r.res = &Results{Date: time.Now().UTC(), Machine: machine(), Quick: opts.Quick, Rounds: opts.Rounds, Notes: notes}
	r.res.Params = map[string]any{"idle": []int{r.p.Idle1, r.p.Idle2}, "fan_small": r.p.FanSmall,
		"fan_large": r.p.Idle1, "channels": r.p.Channels, "payload_bytes": payloadSize,
		"fan_seconds": r.p.FanDur.Seconds(), "latency_seconds": r.p.LatDur.Seconds(),
		"heal_clients": r.p.HealClients, "restart_clients": r.p.RestartClients,
		"restart_channels": r.p.RestartChannels, "restart_publishes_per_s": r.p.RestartRate}
	var err error
	if r.dir, err = os.MkdirTemp("", "wsheal-suite-"); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	r.secret, r.token, r.apiKey = randomHex(24), randomHex(16), randomHex(16)
	if r.jwt, err = signToken(r.secret); err != nil {
		return nil, err
	}
	if r.cfJWT, err = centrifugoToken(r.secret); err != nil {
		return nil, err
	}
	if r.broker, err = embedded.Start(embedded.Options{Port: -1, StoreDir: r.dir, Name: "suite-broker"}); err != nil {
		return nil, fmt.Errorf("suite: broker: %w", err)
	}
	if r.pub, err = nats.Connect(r.broker.ClientURL(), nats.Name("suite-publisher")); err != nil {
		r.close()
		return nil, fmt.Errorf("suite: broker connect: %w", err)
	}
	return r, nil
}

func (r *runner) close() {
	if r.pub != nil {
		r.pub.Close()
	}
	if r.broker != nil {
		r.broker.Shutdown()
		r.broker.WaitForShutdown()
	}
	_ = os.RemoveAll(r.dir)
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%s suite: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Parts is what Options.Only may name, in the order they run.
var Parts = []string{"servers", "channels", "healing", "restart", "fleet", "storm"}

// wants reports whether the run includes part.
func (r *runner) wants(part string) bool {
	if len(r.opts.Only) > 0 {
		return slices.Contains(r.opts.Only, part)
	}
	switch part {
	case "channels":
		return !r.opts.SkipChannels
	case "healing":
		return !r.opts.SkipHealing
	case "restart":
		return !r.opts.SkipRestart
	}
	return true
}

func (r *runner) run(ctx context.Context) error {
	if r.wants("servers") {
		if err := r.servers(ctx); err != nil {
			return err
		}
	}
	if r.wants("channels") {
		if err := r.channelScale(ctx); err != nil {
			return err
		}
	}
	if r.wants("healing") {
		h := r.healing(ctx)
		r.res.Healing = &h
	}
	if r.wants("restart") {
		if err := r.restarts(ctx); err != nil {
			return err
		}
	}
	if r.wants("fleet") {
		r.res.Fleet = r.fleet(ctx)
	}
	if r.wants("storm") {
		r.res.Storm = r.storm(ctx)
	}
	return ctx.Err()
}

// servers measures the side-by-side figures of every server.
func (r *runner) servers(ctx context.Context) error {
	for round := range r.opts.Rounds {
		for _, kind := range rotate(r.opts.Servers, round) {
			if err := r.roundA(ctx, round, kind); err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, kind, err)
			}
		}
	}
	rate := r.latencyRate()
	r.res.Params["latency_publishes_per_s"] = rate
	for round := range r.opts.Rounds {
		for _, kind := range rotate(r.opts.Servers, round) {
			if err := r.roundLatency(ctx, kind, rate); err != nil {
				return fmt.Errorf("latency round %d, %s: %w", round+1, kind, err)
			}
		}
	}
	return nil
}

// rotate starts the order at round%len: each server goes first in turn.
func rotate(xs []string, round int) []string {
	k := round % len(xs)
	return append(append([]string(nil), xs[k:]...), xs[:k]...)
}

// startKind starts the server process of kind.
func (r *runner) startKind(ctx context.Context, kind string) (*serverProc, error) {
	switch kind {
	case ProtoWsheal:
		r.nodes++
		return startServer(ctx, r.opts.Exec, r.gatewayEnv(fmt.Sprintf("suite-%d", r.nodes)), kind)
	case ProtoGws:
		r.dropChannels(ctx)
		return startServer(ctx, r.opts.Exec, nil, kind, "--nats", r.broker.ClientURL(), "--secret", r.secret)
	case ProtoCentrifugo:
		return startCentrifugo(ctx, r.opts.Centrifugo, r.dir, r.secret, r.apiKey, 0)
	case ProtoFloor:
		return startServer(ctx, r.opts.Exec, nil, kind)
	}
	return startServer(ctx, r.opts.Exec, nil, kind, "--token", r.token)
}

// gatewayEnv configures a benchmark gateway: auth on, limits out of the
// way of the measurement (admission would otherwise cap the accept rate).
func (r *runner) gatewayEnv(node string) []string {
	return r.gatewayEnvAt(node, r.broker.ClientURL())
}

// gatewayEnvAt is gatewayEnv for a gateway of the broker at natsURL.
func (r *runner) gatewayEnvAt(node, natsURL string) []string {
	return []string{
		"WSHEAL_GATEWAY_NATS_URL=" + natsURL,
		"WSHEAL_GATEWAY_NODE=" + node,
		"WSHEAL_GATEWAY_AUTH=jwt",
		"WSHEAL_GATEWAY_JWT_SECRET=" + r.secret,
		"WSHEAL_GATEWAY_MAX_CONNS=25000",
		"WSHEAL_GATEWAY_ACCEPT_RATE=1000000",
		"WSHEAL_GATEWAY_ACCEPT_BURST=1000000",
		"WSHEAL_GATEWAY_MAX_CONNS_PER_IP=0", // every load client dials from this host
		"WSHEAL_GATEWAY_ACCEPT_RATE_PER_IP=0",
		"WSHEAL_GATEWAY_LOG_LEVEL=warn",
	}
}

// tokenFor is the credential clients of kind present.
func (r *runner) tokenFor(kind string) string {
	switch kind {
	case ProtoNATS:
		return r.token
	case ProtoCentrifugo:
		return r.cfJWT
	case ProtoFloor:
		return ""
	}
	return r.jwt
}

// publisherFor is the NATS connection whose publishes reach srv's clients.
func (r *runner) publisherFor(srv *serverProc) (*nats.Conn, func(), error) {
	if srv.ready.NATS == "" {
		return r.pub, func() {}, nil
	}
	nc, err := nats.Connect(srv.ready.NATS, nats.Name("suite-publisher"))
	if err != nil {
		return nil, nil, fmt.Errorf("suite: reference nats: %w", err)
	}
	return nc, nc.Close, nil
}

func signToken(secret string) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "suite", "subs": []string{"*"}, "pubs": []string{"*"},
		"exp": time.Now().Add(6 * time.Hour).Unix(),
	})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("suite: token: %w", err)
	}
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
