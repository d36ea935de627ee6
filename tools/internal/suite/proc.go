package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// ErrProc wraps the failures of the suite's child processes.
var ErrProc = errors.New("suite: child process")

// Exec builds the command of a child process: role is "server" (args: a
// kind and its flags, see ServerMain) or "worker" (see Worker).
type Exec func(role string, args ...string) *exec.Cmd

// SelfExec runs this executable's hidden subcommands `suite-server` and
// `suite-worker`.
func SelfExec() (Exec, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	return func(role string, args ...string) *exec.Cmd {
		return exec.Command(exe, append([]string{"suite-" + role}, args...)...)
	}, nil
}

// serverProc is a running server process.
type serverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready Ready
	log   *tail
}

// startServer starts a server process and waits for its Ready line.
func startServer(ctx context.Context, ex Exec, env []string, args ...string) (*serverProc, error) {
	cmd := ex("server", args...)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, env...)
	p := &serverProc{cmd: cmd, log: &tail{}}
	cmd.Stderr = p.log
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start server %v: %v", ErrProc, args, err)
	}
	line := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if !sc.Scan() {
			line <- fmt.Errorf("%w: server %v exited before ready: %s", ErrProc, args, p.log)
			return
		}
		line <- json.Unmarshal(sc.Bytes(), &p.ready)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case err = <-line:
	case <-time.After(60 * time.Second):
		err = fmt.Errorf("%w: server %v not ready within 60s", ErrProc, args)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// pid of the server process.
func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// kill ends the process at once (SIGKILL) and reaps it.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// workerProc is a running client worker process.
type workerProc struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	enc       *json.Encoder
	replies   chan Report
	delivered atomic.Uint64
	progress  chan<- struct{}
	log       *tail
}

// startWorker starts a worker; progress gets a signal (non-blocking) on
// every tick.
func startWorker(ex Exec, progress chan<- struct{}) (*workerProc, error) {
	cmd := ex("worker")
	w := &workerProc{cmd: cmd, replies: make(chan Report, 4), progress: progress, log: &tail{}}
	cmd.Stderr = w.log
	var err error
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProc, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start worker: %v", ErrProc, err)
	}
	w.enc = json.NewEncoder(w.stdin)
	go w.read(out)
	return w, nil
}

func (w *workerProc) read(out io.Reader) {
	defer close(w.replies)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r Report
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Op == "tick" {
			w.delivered.Store(r.Delivered)
			select {
			case w.progress <- struct{}{}:
			default:
			}
			continue
		}
		w.replies <- r
	}
}

// call sends c and waits for its reply.
func (w *workerProc) call(ctx context.Context, c Command, timeout time.Duration) (Report, error) {
	if err := w.enc.Encode(c); err != nil {
		return Report{}, fmt.Errorf("%w: worker: %v (%s)", ErrProc, err, w.log)
	}
	select {
	case r, ok := <-w.replies:
		if !ok {
			return Report{}, fmt.Errorf("%w: worker exited: %s", ErrProc, w.log)
		}
		if r.Op == "error" {
			return r, fmt.Errorf("%w: worker: %s", ErrProc, r.Err)
		}
		return r, nil
	case <-time.After(timeout):
		return Report{}, fmt.Errorf("%w: worker: no answer to %s within %s", ErrProc, c.Op, timeout)
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
}

// stop closes the worker's connections and reaps it.
func (w *workerProc) stop() {
	_ = w.enc.Encode(Command{Op: "quit"})
	_ = w.stdin.Close()
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}

// tail keeps the last 2 KiB a child wrote to stderr, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-2048:]...)
	}
	return len(p), nil
}

// String implements fmt.Stringer.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
