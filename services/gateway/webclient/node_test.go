package webclient_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/gateway/gatewaytest/clientcases"
)

// nodeCmd is the node binary and the flags that give it a WebSocket
// (Node 20 needs --experimental-websocket; later ones have it built in).
func nodeCmd(t *testing.T) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("\n\n*** SKIPPED: no node binary on PATH: wsheal.js did NOT run against the conformance table.\n" +
			"*** Install it: apt-get install -y nodejs\n")
	}
	if exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() == nil {
		return []string{node}
	}
	if exec.Command(node, "--experimental-websocket", "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() == nil {
		return []string{node, "--experimental-websocket"}
	}
	t.Skip("\n\n*** SKIPPED: this node has no WebSocket (Node 20+ with --experimental-websocket is needed)\n")
	return nil
}

// TestConformanceTableNode plays the shared client conformance table with
// wsheal.js in Node (testdata/driver.mjs) against real gateways and NATS.
func TestConformanceTableNode(t *testing.T) {
	node := nodeCmd(t)
	clientcases.Run(t, func(t *testing.T) clientcases.Driver { return startNodeDriver(t, node) })
}

// nodeDriver speaks driver.mjs's line protocol.
type nodeDriver struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	rec   *clientcases.Record
	next  int
	calls map[int]chan answer
	done  chan struct{}
}

type answer struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// line is an answer ("id") or an event ("ev") of the driver.
type line struct {
	ID int    `json:"id"`
	Ev string `json:"ev"`
	answer
	clientcases.State
	Channel  string          `json:"channel"`
	Seq      uint64          `json:"seq"`
	Data     json.RawMessage `json:"data"`
	NewEpoch bool            `json:"new_epoch"`
}

func startNodeDriver(t *testing.T, node []string) *nodeDriver {
	cmd := exec.Command(node[0], append(node[1:], "testdata/driver.mjs")...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &nodeDriver{t: t, cmd: cmd, in: in, rec: &clientcases.Record{}, calls: map[int]chan answer{}, done: make(chan struct{})}
	go d.read(outp)
	return d
}

func (d *nodeDriver) read(r io.Reader) {
	defer close(d.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			d.t.Errorf("driver.mjs wrote %q: %v", sc.Text(), err)
			continue
		}
		d.mu.Lock()
		rec := d.rec
		d.mu.Unlock()
		switch l.Ev {
		case "state":
			rec.AddState(l.State)
		case "msg":
			rec.Deliver(l.Channel, clientcases.Message{Seq: l.Seq, Data: l.Data})
		case "gap":
			rec.AddGap(clientcases.Gap{Channel: l.Channel, NewEpoch: l.NewEpoch})
		case "":
			d.mu.Lock()
			ch := d.calls[l.ID]
			delete(d.calls, l.ID)
			d.mu.Unlock()
			if ch != nil {
				ch <- l.answer
			}
		}
	}
}

// call sends one command and waits for its answer.
func (d *nodeDriver) call(cmd string, args map[string]any) (json.RawMessage, error) {
	d.mu.Lock()
	d.next++
	id, ch := d.next, make(chan answer, 1)
	d.calls[id] = ch
	d.mu.Unlock()
	args["id"], args["cmd"] = id, cmd
	b, _ := json.Marshal(args)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("driver.mjs: %w", err)
	}
	select {
	case a := <-ch:
		if a.Error != nil {
			return nil, &clientcases.CodeError{Code: a.Error.Code, Message: a.Error.Message}
		}
		return a.Result, nil
	case <-d.done:
		return nil, fmt.Errorf("driver.mjs exited")
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("driver.mjs: no answer to %s within 30s", cmd)
	}
}

func (d *nodeDriver) Dial(dl clientcases.Dial, rec *clientcases.Record) error {
	d.mu.Lock()
	d.rec = rec
	d.mu.Unlock()
	_, err := d.call("dial", map[string]any{"urls": dl.URLs, "discovery": dl.Discovery, "token": dl.Token, "token_url": dl.TokenURL})
	return err
}

func (d *nodeDriver) Subscribe(channel string) error {
	_, err := d.call("subscribe", map[string]any{"channel": channel})
	return err
}

func (d *nodeDriver) Publish(channel string, data json.RawMessage) (uint64, error) {
	res, err := d.call("publish", map[string]any{"channel": channel, "data": data})
	if err != nil {
		return 0, err
	}
	var ack struct {
		Seq uint64 `json:"seq"`
	}
	return ack.Seq, json.Unmarshal(res, &ack)
}

func (d *nodeDriver) Close() {
	_ = d.in.Close()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
	}
	_ = d.cmd.Wait()
}

// testWriter logs a process's stderr in the test.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
