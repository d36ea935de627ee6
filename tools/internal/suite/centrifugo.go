package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CentrifugoVersion is the Centrifugo release the suite measures; the
// Makefile's centrifugo target builds it.
const CentrifugoVersion = "v6.9.1"

// centrifugoNamespace is the namespace of the suite's channels in
// Centrifugo: channel c is "bench:c".
const centrifugoNamespace = "bench"

// ErrNoCentrifugo: the Centrifugo binary is not where it was looked for.
var ErrNoCentrifugo = errors.New("suite: no Centrifugo binary (make centrifugo)")

// DefaultCentrifugo is where `make centrifugo` builds the binary.
func DefaultCentrifugo() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "wsheal", "centrifugo", CentrifugoVersion, "centrifugo")
}

// centrifugoChannel is channel's name in Centrifugo.
func centrifugoChannel(channel string) string { return centrifugoNamespace + ":" + channel }

// centrifugoConfig is a configuration as close to wsheal's as Centrifugo
// allows: the memory engine; a namespace keeping history, with recovery
// forced on (the nearest to resuming from the channel stream); clients
// authenticated by HS256 tokens; publishing through the HTTP server API
// with a key. Everything else is Centrifugo's default.
func centrifugoConfig(port int, secret, apiKey string) ([]byte, error) {
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"usage_stats": map[string]any{"disabled": true},
		"health":      map[string]any{"enabled": true},
		"engine":      map[string]any{"type": "memory"},
		"client": map[string]any{
			"token":           map[string]any{"hmac_secret_key": secret},
			"allowed_origins": []string{"*"},
		},
		"http_api": map[string]any{"key": apiKey},
		"channel": map[string]any{"namespaces": []map[string]any{{
			"name":                       centrifugoNamespace,
			"history_size":               1000,
			"history_ttl":                "300s",
			"force_recovery":             true,
			"allow_subscribe_for_client": true,
		}}},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("suite: centrifugo config: %w", err)
	}
	return b, nil
}

// centrifugoToken is a connection token: Centrifugo reads "sub" and "exp"
// (its "subs" claim means server-side subscriptions, so wsheal's token
// does not fit).
func centrifugoToken(secret string) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "suite", "exp": time.Now().Add(6 * time.Hour).Unix(),
	})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("suite: centrifugo token: %w", err)
	}
	return s, nil
}

// startCentrifugo writes a configuration and starts bin with it on port
// of 127.0.0.1 (0: a free one); it returns once /health answers.
func startCentrifugo(ctx context.Context, bin, dir, secret, apiKey string, port int) (*serverProc, error) {
	var err error
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	cfg, err := centrifugoConfig(port, secret, apiKey)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "centrifugo-"+strconv.Itoa(port)+".json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("suite: centrifugo config: %w", err)
	}
	cmd := exec.Command(bin, "--config", path)
	p := &serverProc{cmd: cmd, log: &tail{}}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start centrifugo: %v", ErrProc, err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p.ready = Ready{WS: "ws://127.0.0.1:" + strconv.Itoa(port) + "/connection/websocket",
		Publish: base + "/api", PID: cmd.Process.Pid}
	if err := awaitHealth(ctx, base+"/health"); err != nil {
		p.kill()
		return nil, fmt.Errorf("%w: centrifugo: %v: %s", ErrProc, err, p.log)
	}
	return p, nil
}

// awaitHealth polls url until it answers 200 (at most 30 s; a server that
// exited never does, and its log says why).
func awaitHealth(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("not ready within 30s")
}

// centrifugoPublisher publishes through Centrifugo's HTTP server API:
// publish only enqueues; centrifugoSenders requests in flight each carry
// what was queued, up to centrifugoBatch publishes (the API's batch
// method), so that publishing pipelines as a NATS publisher does.
type centrifugoPublisher struct {
	url, key string
	client   *http.Client
	queue    chan cfPublish
	senders  sync.WaitGroup
	pending  sync.WaitGroup
	failed   atomic.Uint64
	lastErr  atomic.Pointer[string]
}

type cfPublish struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

const (
	centrifugoSenders = 8
	centrifugoBatch   = 64
)

func newCentrifugoPublisher(apiURL, key string) *centrifugoPublisher {
	p := &centrifugoPublisher{url: apiURL + "/batch", key: key, queue: make(chan cfPublish, 4096),
		client: &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: centrifugoSenders}}}
	for range centrifugoSenders {
		p.senders.Go(p.send)
	}
	return p
}

// publish enqueues data (a JSON value) for channel.
func (p *centrifugoPublisher) publish(channel string, data []byte) error {
	p.pending.Add(1)
	p.queue <- cfPublish{Channel: centrifugoChannel(channel), Data: data}
	return nil
}

func (p *centrifugoPublisher) send() {
	batch := make([]cfPublish, 0, centrifugoBatch)
	for first := range p.queue {
		batch = append(batch[:0], first)
	more:
		for len(batch) < centrifugoBatch {
			select {
			case m, ok := <-p.queue:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		failed, err := p.post(batch)
		if err != nil {
			msg := err.Error()
			p.lastErr.Store(&msg)
		}
		p.failed.Add(uint64(failed))
		p.pending.Add(-len(batch))
	}
}

// post sends one batch and returns how many of it Centrifugo refused.
func (p *centrifugoPublisher) post(batch []cfPublish) (int, error) {
	type command struct {
		Publish cfPublish `json:"publish"`
	}
	cmds := make([]command, len(batch))
	for i, m := range batch {
		cmds[i].Publish = m
	}
	body, err := json.Marshal(map[string]any{"commands": cmds})
	if err != nil {
		return len(batch), err
	}
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return len(batch), err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.key)
	resp, err := p.client.Do(req)
	if err != nil {
		return len(batch), err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return len(batch), fmt.Errorf("centrifugo api: %s", resp.Status)
	}
	var out struct {
		Replies []struct {
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"replies"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return len(batch), fmt.Errorf("centrifugo api: %w", err)
	}
	failed := len(batch) - len(out.Replies)
	for _, r := range out.Replies {
		if r.Error != nil {
			failed++
			err = fmt.Errorf("centrifugo api: %d %s", r.Error.Code, r.Error.Message)
		}
	}
	return failed, err
}

// settle waits for every queued publish's answer (at most a minute).
func (p *centrifugoPublisher) settle(ctx context.Context) (uint64, error) {
	done := make(chan struct{})
	go func() { p.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(time.Minute):
		return 0, errors.New("suite: centrifugo publishes unanswered after a minute")
	}
	if msg := p.lastErr.Load(); msg != nil {
		return p.failed.Load(), errors.New(*msg)
	}
	return p.failed.Load(), nil
}

func (p *centrifugoPublisher) close() {
	close(p.queue)
	p.senders.Wait()
	p.client.CloseIdleConnections()
}
