package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// ErrConfig wraps every configuration error of Run.
var ErrConfig = errors.New("bench: invalid config")

// Defaults of Config.
const (
	DefaultClients  = 100
	DefaultChannels = 10
	DefaultRate     = 100
	DefaultDuration = 10 * time.Second
	DefaultSize     = 128
	DefaultDialRate = 150
	DefaultDrain    = 10 * time.Second
	// PublisherRate is the most one publisher connection is asked to
	// send per second (the gateway limits each connection's inbound rate).
	PublisherRate = 50
)

// Config of a run. Zero values take the defaults.
type Config struct {
	URLs      []string // gateway WebSocket URLs
	Discovery string   // or a discovery endpoint, http://host:port/v1/connect
	Token     string

	Clients  int // subscriber connections
	Channels int // subscriber i listens on channel i % Channels
	// Rate is the target of publishes per second over all channels. Each
	// channel publishes one message at a time (waiting for the ack, to
	// keep its order), so the rate reached is at most Channels / ack
	// latency: the report shows it as sent_per_s.
	Rate     float64
	Duration time.Duration // of the publishing phase
	Size     int           // payload bytes

	// SourceAddrs are local IPs the clients dial from, round robin
	// (127.0.0.1..127.0.0.8 lifts the 64k ports limit of one address).
	SourceAddrs []string
	DialRate    float64 // connects per second while ramping up

	// Drain is how long to wait after the last publish for the
	// deliveries still under way; the wait ends early once nothing is
	// missing.
	Drain time.Duration
	// Publishers overrides the number of publisher connections (default
	// Rate/PublisherRate, at least 1, at most Channels).
	Publishers int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Clients, DefaultClients)
	def(&c.Channels, DefaultChannels)
	def(&c.Size, DefaultSize)
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Duration <= 0 {
		c.Duration = DefaultDuration
	}
	if c.DialRate <= 0 {
		c.DialRate = DefaultDialRate
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	if c.Publishers <= 0 {
		c.Publishers = int(math.Ceil(c.Rate / PublisherRate))
	}
	c.Publishers = min(max(c.Publishers, 1), c.Channels)
	return c
}

// Validate checks what defaults cannot fix.
func (c Config) Validate() error {
	if len(c.URLs) == 0 && c.Discovery == "" {
		return fmt.Errorf("%w: a gateway URL or a discovery URL is required", ErrConfig)
	}
	for _, a := range c.SourceAddrs {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("%w: source address %q is not an IP", ErrConfig, a)
		}
	}
	if c.Size > 60<<10 {
		return fmt.Errorf("%w: size %d above the 60 KiB a frame may carry", ErrConfig, c.Size)
	}
	return nil
}

// run is one benchmark in progress.
type run struct {
	cfg    Config
	id     string
	t      tally
	mu     sync.Mutex
	subs   []*subscriber // with their clients, for connections held
	perCh  []uint64      // subscribers per channel
	conns  []*client.Client
	failed int
	errs   map[string]int
	acked  []*bitset // per channel, written by its publisher
	ackMu  []sync.Mutex
}

// Run executes a benchmark and returns its report. Progress lines go to
// progress once a second. Cancelling ctx ends the run early; the report
// then says Interrupted.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := newRun(cfg.withDefaults())
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	stopProgress := r.progress(progress, start)
	defer stopProgress()
	defer r.closeAll()

	if err := r.ramp(ctx); err != nil {
		return nil, err
	}
	pubs, err := r.dialPublishers(ctx)
	if ctx.Err() != nil { // interrupted while connecting: report what is there
		now := time.Now()
		return r.report(start, now, now, true), nil
	}
	if err != nil {
		return nil, err
	}
	pubStart := time.Now()
	pctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	r.publish(pctx, pubs)
	cancel()
	pubEnd := time.Now()
	if ctx.Err() == nil {
		r.drain(ctx)
	}
	return r.report(start, pubStart, pubEnd, ctx.Err() != nil), nil
}

// newRun prepares a run of cfg (defaults applied).
func newRun(cfg Config) *run {
	r := &run{cfg: cfg, id: strconv.FormatUint(rand.Uint64()%(1<<40), 36),
		perCh: make([]uint64, cfg.Channels), errs: map[string]int{},
		acked: make([]*bitset, cfg.Channels), ackMu: make([]sync.Mutex, cfg.Channels)}
	for i := range r.acked {
		r.acked[i] = &bitset{}
	}
	return r
}

func (r *run) channel(k int) string { return "bench-" + r.id + "-" + strconv.Itoa(k) }

// clientConfig is the pkg/client config of the i-th connection.
func (r *run) clientConfig(i int) client.Config {
	cc := client.Config{
		URLs: r.cfg.URLs, Discovery: r.cfg.Discovery, Token: r.cfg.Token,
		OnState: connState(&r.t),
		OnGap:   func(client.Gap) { r.t.gaps.Add(1) },
		// A short queue per client keeps thousands of clients small.
		DeliveryBuffer: 16,
	}
	if n := len(r.cfg.SourceAddrs); n > 0 {
		cc.Dialer = SourceDialer(r.cfg.SourceAddrs[i%n], 0)
	}
	return cc
}

// noteErr keeps a sample of errors; connect failures are also counted.
func (r *run) noteErr(err error, connect bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if connect {
		r.failed++
	}
	if len(r.errs) < 10 {
		r.errs[err.Error()]++
	}
}

// closeAll closes every client, a few at a time.
func (r *run) closeAll() {
	r.mu.Lock()
	conns := r.conns
	r.conns = nil
	r.mu.Unlock()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, c := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			_ = c.Close()
		}()
	}
	wg.Wait()
}
