package system

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest/clientcases"
)

// TestConformanceTable plays the shared client conformance table
// (services/gateway/gatewaytest/clientcases/cases.json, which wsheal.js
// plays too) with this client against real gateways and NATS.
func TestConformanceTable(t *testing.T) {
	clientcases.Run(t, func(t *testing.T) clientcases.Driver { return &caseDriver{t: t} })
}

// caseDriver is the Go client behind the table's Driver interface.
type caseDriver struct {
	t      *testing.T
	c      *client.Client
	rec    *clientcases.Record
	mu     sync.Mutex
	subs   map[string]*client.Subscription
	epochs map[string]string
}

func (d *caseDriver) Dial(dl clientcases.Dial, rec *clientcases.Record) error {
	d.rec, d.subs, d.epochs = rec, map[string]*client.Subscription{}, map[string]string{}
	cfg := client.Config{
		URLs: dl.URLs, Discovery: dl.Discovery, Token: dl.Token,
		Backoff:     client.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		DialTimeout: 3 * time.Second,
		OnState:     d.state,
		OnGap:       d.gap,
	}
	if dl.TokenURL != "" {
		cfg.TokenFunc = func(ctx context.Context) (string, error) { return fetchToken(ctx, dl.TokenURL) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		return codeOf(err)
	}
	d.c = c
	return nil
}

func fetchToken(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func (d *caseDriver) state(s client.State) {
	st := clientcases.State{State: s.Kind.String(), Node: s.Node, Code: s.Code, Hinted: s.Hinted}
	var ce *client.CloseError
	if s.Kind == client.Closed && errors.As(s.Err, &ce) {
		st.Code = ce.Code
	}
	d.rec.AddState(st)
}

func (d *caseDriver) gap(g client.Gap) {
	d.mu.Lock()
	sub := d.subs[g.Channel]
	old := d.epochs[g.Channel]
	d.mu.Unlock()
	newEpoch := false
	if sub != nil {
		newEpoch = sub.Epoch() != old
		d.mu.Lock()
		d.epochs[g.Channel] = sub.Epoch()
		d.mu.Unlock()
	}
	d.rec.AddGap(clientcases.Gap{Channel: g.Channel, NewEpoch: newEpoch})
}

func (d *caseDriver) Subscribe(channel string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := d.c.Subscribe(ctx, channel, func(m client.Message) {
		d.rec.Deliver(m.Channel, clientcases.Message{Seq: m.Seq, Data: m.Data})
	})
	if err != nil {
		return codeOf(err)
	}
	d.mu.Lock()
	d.subs[channel], d.epochs[channel] = sub, sub.Epoch()
	d.mu.Unlock()
	return nil
}

func (d *caseDriver) Publish(channel string, data json.RawMessage) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ack, err := d.c.Publish(ctx, channel, data)
	if err != nil {
		return 0, codeOf(err)
	}
	return ack.Seq, nil
}

func (d *caseDriver) Close() {
	if d.c != nil {
		_ = d.c.Close()
	}
}

// codeOf names an error by the protocol's code.
func codeOf(err error) error {
	var se *client.ServerError
	var ce *client.CloseError
	switch {
	case errors.As(err, &se):
		return &clientcases.CodeError{Code: se.Code, Message: se.Message}
	case errors.As(err, &ce):
		for _, ci := range frame.CloseCodes {
			if ci.Code == ce.Code {
				return &clientcases.CodeError{Code: ci.Name, Message: err.Error()}
			}
		}
	}
	return err
}
