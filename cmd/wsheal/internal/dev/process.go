package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// spec describes one child process: the same binary re-executed with a
// service subcommand and its environment.
type spec struct {
	Name    string   // node id or service name, unique
	Service string   // gateway, monitor, healer, notifier, demo
	Args    []string // after the binary
	Env     []string
	URL     string // what it serves, for the banner
	// Echo, if set, also receives the child's stderr (besides its log file).
	Echo io.Writer
}

// proc is a supervised child. The supervisor never restarts a dead child
// by itself: that is the healer's job (through the restart request), as
// the Docker engine's is in compose.
type proc struct {
	spec spec
	log  string // log file path

	mu      sync.Mutex
	cmd     *exec.Cmd
	running bool
	exit    string
	done    chan struct{}
}

func (p *proc) start(bin string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return fmt.Errorf("dev: %s is already running (pid %d)", p.spec.Name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("dev: log for %s: %w", p.spec.Name, err)
	}
	cmd := exec.Command(bin, p.spec.Args...)
	cmd.Env = append(os.Environ(), p.spec.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	if p.spec.Echo != nil {
		cmd.Stderr = io.MultiWriter(f, p.spec.Echo)
	}
	// Own process group: a Ctrl-C in the terminal reaches the supervisor
	// only, which then stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("dev: start %s: %w", p.spec.Name, err)
	}
	p.cmd, p.running, p.exit = cmd, true, ""
	done := make(chan struct{})
	p.done = done
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.running = false
		p.exit = exitText(err)
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit 0"
}

// stop asks the child to stop (SIGTERM), waits up to grace, then kills it.
// A stopped (SIGSTOP) child is continued first so that it can exit.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	cmd, running, done := p.cmd, p.running, p.done
	p.mu.Unlock()
	if !running {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// kill ends the child at once, as a crash would (SIGKILL), and waits.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, running, done := p.cmd, p.running, p.done
	p.mu.Unlock()
	if running {
		_ = cmd.Process.Kill()
		<-done
	}
}

// restart kills the child if it still runs (a hung process does not exit
// on SIGTERM) and starts it again.
func (p *proc) restart(ctx context.Context, bin string) error {
	p.stop(2 * time.Second)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return p.start(bin)
}

func (p *proc) info() events.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	pi := events.Process{Name: p.spec.Name, Service: p.spec.Service, Running: p.running, Exit: p.exit, URL: p.spec.URL}
	if p.running {
		pi.PID = p.cmd.Process.Pid
	}
	return pi
}

func logPath(dir, name string) string { return filepath.Join(dir, "logs", name+".log") }
