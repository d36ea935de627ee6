package clientcases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

// Secret signs the tokens of the auth cases.
const Secret = "clientcases-0123456789abcdef"

// wait bounds every expectation (polled, never slept on).
const wait = 20 * time.Second

// Run plays every case of the table with a fresh driver from newDriver,
// each as a subtest.
func Run(t *testing.T, newDriver func(t *testing.T) Driver) {
	table, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range table.Cases {
		t.Run(c.Name, func(t *testing.T) {
			r := &runner{t: t, c: c, rec: &Record{}, drv: newDriver(t)}
			t.Cleanup(r.drv.Close)
			r.start()
			for i, s := range c.Steps {
				if err := r.step(s); err != nil {
					_, states, gaps := r.rec.Snapshot("")
					t.Fatalf("%s step %d %s: %v\nstates: %v\ngaps: %v", c.Name, i+1, s, err, states, gaps)
				}
			}
		})
	}
}

type runner struct {
	t     *testing.T
	c     Case
	rec   *Record
	drv   Driver
	ns    *natstest.Server
	nodes map[string]*gateway.Service
	order []string
	mark  int    // index in states at the last kill/drain
	from  string // the node the client was on at the mark
}

func (r *runner) start() {
	r.ns = natstest.Start(r.t)
	r.nodes = map[string]*gateway.Service{}
	for i := 1; i <= max(1, r.c.Nodes); i++ {
		name := "gw-" + strconv.Itoa(i)
		cfg := gatewaytest.Config(r.ns.URL(), name)
		cfg.PingInterval, cfg.PongDeadline = 500*time.Millisecond, time.Second
		if r.c.Auth {
			cfg.Auth, cfg.JWTSecret = "jwt", Secret
		}
		r.nodes[name] = gatewaytest.Start(r.t, cfg)
		r.order = append(r.order, name)
	}
}

func (r *runner) step(s Step) error {
	switch {
	case s.Do != "":
		return r.do(s)
	case s.Expect != "":
		return r.expect(s)
	}
	return errors.New("neither do nor expect")
}

func (r *runner) do(s Step) error {
	switch s.Do {
	case "dial":
		return want(r.drv.Dial(r.dial(s), r.rec), s.Error)
	case "subscribe":
		return want(r.drv.Subscribe(s.Channel), s.Error)
	case "publish":
		return r.publish(s)
	case "kill", "drain":
		return r.stop(s)
	case "recreate_stream":
		_, js := r.ns.JetStream()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, events.StreamChannels); err != nil {
			return err
		}
		return events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1})
	}
	return fmt.Errorf("unknown action %q", s.Do)
}

// want compares an action's result with the error code it must have.
func want(err error, code string) error {
	var ce *CodeError
	switch {
	case code == "" && err == nil:
		return nil
	case code == "":
		return fmt.Errorf("unexpected error: %w", err)
	case err == nil:
		return fmt.Errorf("succeeded, want error %q", code)
	case errors.As(err, &ce) && ce.Code == code:
		return nil
	}
	return fmt.Errorf("error %v, want code %q", err, code)
}

func (r *runner) dial(s Step) Dial {
	var d Dial
	if s.Via == "discovery" {
		d.Discovery = strings.Replace(strings.TrimSuffix(r.nodes[r.order[0]].URL(), "/ws"), "ws://", "http://", 1) + "/v1/connect"
	} else {
		for _, n := range r.order {
			d.URLs = append(d.URLs, r.nodes[n].URL())
		}
	}
	switch s.Token {
	case "valid":
		d.Token = r.token(time.Hour)
	case "bad":
		d.Token = "not-a-jwt"
	case "short":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(r.token(3 * time.Second)))
		}))
		r.t.Cleanup(srv.Close)
		d.TokenURL = srv.URL
	}
	return d
}

// token grants chat:* for ttl.
func (r *runner) token(ttl time.Duration) string {
	tok, err := auth.Sign(Secret, auth.Claims{Subs: []string{"chat:*"}, Pubs: []string{"chat:*"},
		RegisteredClaims: jwt.RegisteredClaims{Subject: "conformance", ExpiresAt: jwt.NewNumericDate(time.Now().Add(ttl))}})
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func (r *runner) publish(s Step) error {
	for i := s.From; i <= s.To; i++ {
		if _, err := r.drv.Publish(s.Channel, json.RawMessage(strconv.Itoa(i))); err != nil || s.Error != "" {
			return want(err, s.Error)
		}
	}
	return nil
}

// stop kills or drains a node, remembering where the client was.
func (r *runner) stop(s Step) error {
	_, states, _ := r.rec.Snapshot("")
	r.mark, r.from = len(states), s.Node
	if s.Node == "current" {
		r.from = current(states)
	}
	n := r.nodes[r.from]
	if n == nil {
		return fmt.Errorf("no node %q", r.from)
	}
	if s.Do == "kill" {
		n.Kill()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := events.DrainCommand{ID: fmt.Sprintf("cc-%d", time.Now().UnixNano()), OverMS: 300}
	_, err := events.CtlGatewayDrain.CallNode(ctx, r.ns.Conn(), r.from, cmd)
	return err
}

// current is the node of the last connected state.
func current(states []State) string {
	for i := len(states) - 1; i >= 0; i-- {
		if states[i].State == "connected" {
			return states[i].Node
		}
	}
	return ""
}
