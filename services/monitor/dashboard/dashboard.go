package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrNoNATS is returned while the dashboard has no NATS connection (before
// Run, after it, or while the connection is down).
var ErrNoNATS = errors.New("dashboard: not connected to NATS")

// ErrRun is wrapped by the errors that stop Run.
var ErrRun = errors.New("dashboard: run")

//go:embed assets
var assets embed.FS

// Config tunes the dashboard. The zero value is usable: every zero field
// takes its default.
type Config struct {
	// Window is how much history the charts keep (default 10m).
	Window time.Duration
	// Sample is the chart resolution and the live tick (default 1s).
	Sample time.Duration
	// Feed is how many feed items a fresh page gets (default 300).
	Feed int
	// Timeout bounds each control request (default 2s).
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = 10 * time.Minute
	}
	if c.Sample <= 0 {
		c.Sample = time.Second
	}
	if c.Feed <= 0 {
		c.Feed = 300
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	return c
}

// Dashboard serves the console. Build it with New, mount Handler, and
// start Run with a NATS connection; the handler answers before Run too
// (the page shows that NATS is not there yet).
type Dashboard struct {
	cfg   Config
	log   zerolog.Logger
	nc    atomic.Pointer[nats.Conn]
	store *store
	hub   *hub
	mux   *http.ServeMux
}

// New builds a dashboard.
func New(cfg Config, log zerolog.Logger) *Dashboard {
	cfg = cfg.withDefaults()
	d := &Dashboard{
		cfg:   cfg,
		log:   log.With().Str("component", "dashboard").Logger(),
		store: newStore(cfg.Window, cfg.Sample, cfg.Feed),
		hub:   newHub(),
		mux:   http.NewServeMux(),
	}
	d.routes()
	return d
}

// Handler serves the console and its JSON and SSE endpoints. Mount it on
// "/" (it owns /, /assets/ and /dash/).
func (d *Dashboard) Handler() http.Handler { return d.mux }

// Run listens on nc until ctx ends: it feeds the charts and the event
// feed, and pushes a tick (fleet, NATS state, chart sample) to every open
// stream each Sample. It returns nil on a clean stop. nc stays the
// caller's: Run does not close it.
func (d *Dashboard) Run(ctx context.Context, nc *nats.Conn) error {
	if nc == nil {
		return fmt.Errorf("%w: %w", ErrRun, ErrNoNATS)
	}
	subs, err := d.subscribe(nc)
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	d.nc.Store(nc)
	defer d.nc.Store(nil)
	d.hub.reopen()
	defer d.hub.close()
	d.log.Info().Msg("dashboard live")
	t := time.NewTicker(d.cfg.Sample)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			d.tick(ctx, now, n)
		}
	}
}

// Live reports whether Run serves on a connected NATS connection.
func (d *Dashboard) Live() bool {
	_, err := d.conn()
	return err == nil
}

// conn is the NATS connection when it is usable.
func (d *Dashboard) conn() (*nats.Conn, error) {
	nc := d.nc.Load()
	if nc == nil || !nc.IsConnected() {
		return nil, ErrNoNATS
	}
	return nc, nil
}

// ask calls a control endpoint with the dashboard's timeout.
func ask[Req, Rep any](ctx context.Context, d *Dashboard, ep events.Endpoint[Req, Rep], req Req) (Rep, error) {
	nc, err := d.conn()
	if err != nil {
		var zero Rep
		return zero, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	return ep.Call(ctx, nc, req)
}

// tickMsg is the "tick" stream event.
type tickMsg struct {
	At         time.Time           `json:"at"`
	NATS       bool                `json:"nats"`
	Fleet      *events.FleetStatus `json:"fleet,omitempty"`
	FleetError string              `json:"fleet_error,omitempty"`
	Sample     point               `json:"sample"`
}

// tick records a chart sample and, when someone watches, asks the monitor
// for the fleet (every tick) and the healer for its state (every third).
func (d *Dashboard) tick(ctx context.Context, now time.Time, n int) {
	p := d.store.sample(now)
	if d.hub.count() == 0 {
		return
	}
	msg := tickMsg{At: now.UTC(), Sample: p}
	_, err := d.conn()
	msg.NATS = err == nil
	if fs, err := askFor(ctx, d, d.cfg.Sample, events.CtlMonitorStatus, events.FleetStatusRequest{}); err != nil {
		msg.FleetError = err.Error()
	} else {
		msg.Fleet = &fs
	}
	d.hub.broadcast("tick", msg)
	if n%3 == 0 {
		hctx, cancel := context.WithTimeout(ctx, d.cfg.Sample)
		defer cancel()
		d.hub.broadcast("healer", d.healer(hctx))
	}
}

// askFor is ask with a shorter timeout, so that a silent service never
// stalls the tick.
func askFor[Req, Rep any](ctx context.Context, d *Dashboard, timeout time.Duration, ep events.Endpoint[Req, Rep], req Req) (Rep, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return ask(ctx, d, ep, req)
}

// staticFS is the embedded assets directory.
func staticFS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}
