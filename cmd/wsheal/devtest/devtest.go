package devtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Package is the wsheal command's import path; Tools is wsheal-tools',
// which the command runs for `wsheal bench` and `wsheal chaos`, and so
// for `wsheal dev`'s demo clients.
const (
	Package = "github.com/wsheal/wsheal/cmd/wsheal"
	Tools   = "github.com/wsheal/wsheal/tools/cmd/wsheal-tools"
)

// Build compiles the wsheal command and, beside it, wsheal-tools, once
// per test binary run, as `make build tools-bin` does, and returns the
// path of wsheal. It builds in the workspace (go.work), which holds both
// modules; neither module requires the other for it.
var Build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wsheal-bin-")
	if err != nil {
		return "", err
	}
	for name, pkg := range map[string]string{"wsheal": Package, "wsheal-tools": Tools} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return filepath.Join(dir, "wsheal"), nil
})

// FreePorts finds n consecutive free loopback ports and returns the first.
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for i := 0; i < n && ok; i++ {
			c, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// Log is an output buffer safe for concurrent writes and reads.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Stack is a `wsheal dev` process started by a test.
type Stack struct {
	Cmd         *exec.Cmd
	NATSURL     string
	GatewayPort int // the first gateway's; the others follow
	MonitorPort int // the first monitor's; healers' at +5, notifiers' at +8
	Out         *Log
	// Done receives the process's exit once it has ended.
	Done chan error
}

var natsLine = regexp.MustCompile(`NATS\s+(nats://\S+)`)

// Start runs `wsheal dev` with args after its ports (an embedded NATS on
// a random port, three gateways and the control plane on free ports).
func Start(t testing.TB, args ...string) *Stack {
	t.Helper()
	bin, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	gw := FreePorts(t, 3)
	mon := FreePorts(t, 11) // monitors; healers' and notifiers' /metrics at +5 and +8
	args = append([]string{"dev", "--nats-port", "-1", "--gateway-port", fmt.Sprint(gw), "--monitor-port", fmt.Sprint(mon)}, args...)
	cmd := exec.Command(bin, args...)
	pr, pw, _ := os.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	s := &Stack{Cmd: cmd, GatewayPort: gw, MonitorPort: mon, Out: &Log{}, Done: make(chan error, 1)}
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.Out, line)
			if m := natsLine.FindStringSubmatch(line); m != nil {
				select {
				case urlCh <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { s.Done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.Done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	select {
	case s.NATSURL = <-urlCh:
	case err := <-s.Done:
		t.Fatalf("wsheal dev exited: %v\n%s", err, s.Out)
	case <-time.After(60 * time.Second):
		t.Fatalf("wsheal dev printed no NATS URL\n%s", s.Out)
	}
	return s
}
