//go:build unix

package dashboard_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

// chromiumPath finds a Chromium or Chrome binary: $WSHEAL_CHROMIUM, then
// the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("WSHEAL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserSeesANodeDieAndAnIncident opens the dashboard of a running
// `wsheal dev` stack in headless Chromium, sees the three nodes, kills
// one gateway with SIGKILL, and sees the node leave the healthy state and
// an incident appear. It saves a screenshot.
func TestBrowserSeesANodeDieAndAnIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("\n\n*** SKIPPED: no chromium binary found (tried $WSHEAL_CHROMIUM, chromium, chromium-browser, google-chrome).\n" +
			"*** The dashboard browser test did NOT run. Install it: apt-get install -y chromium\n")
	}
	stack := startStack(t)
	nc, err := nats.Connect(stack.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	url := dashboardURL(t, stack, nc)

	ctx := browser(t, chromium)
	step := func(what string, timeout time.Duration, expr string) {
		t.Helper()
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
		defer cancel()
		if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			shot(t, ctx, "dashboard-failed.png")
			t.Fatalf("%s: %v\n--- wsheal dev output ---\n%s%s", what, err, stack.out.String(), stack.logTails())
		}
		t.Logf("seen: %s (%s)", what, time.Since(start).Round(100*time.Millisecond))
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	step("three healthy nodes", 30*time.Second, `["gw-1","gw-2","gw-3"].every(n => {
		const r = document.querySelector('#fleet tr[data-node="' + n + '"]');
		return r && r.dataset.state === "healthy";
	})`)
	step("connections charted", 15*time.Second, `document.querySelectorAll('#chart-conn path.line').length >= 3`)
	step("hovering the chart reads the counts at that time", 5*time.Second, `(() => {
		const svg = document.getElementById("chart-conn"), r = svg.getBoundingClientRect();
		svg.dispatchEvent(new MouseEvent("mousemove", {clientX: r.right - 12, clientY: r.top + 50}));
		const ok = !!document.querySelector("#legend-conn .at") && !!document.querySelector("#chart-conn line.cursor");
		svg.dispatchEvent(new MouseEvent("mouseleave"));
		return ok && !document.querySelector("#legend-conn .at");
	})()`)

	pid := gatewayPID(t, nc, "gw-2")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill gw-2 (pid %d): %v", pid, err)
	}
	t.Logf("killed gw-2 (pid %d)", pid)
	step("gw-2 leaves the healthy state", 30*time.Second, `(() => {
		const r = document.querySelector('#fleet tr[data-node="gw-2"]');
		return !!r && r.dataset.state !== "healthy";
	})()`)
	step("an incident naming gw-2 appears", 30*time.Second, `[...document.querySelectorAll('#incidents tr[data-incident]')].some(r => r.textContent.includes("gw-2"))`)
	step("its timeline shows", 15*time.Second, `document.querySelectorAll('#incident-detail .timeline li').length > 0`)
	step("the feed shows the anomaly", 10*time.Second, `[...document.querySelectorAll('#feed li[data-kind="anomaly"]')].some(li => li.textContent.includes("gw-2"))`)
	step("the healer's actions show its work on gw-2", 30*time.Second, `[...document.querySelectorAll('#actions tbody tr')].some(r => r.textContent.includes("gw-2"))`)
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if err := chromedp.Do(cctx, chromedp.Click(chromedp.CSS(`#fleet tr[data-node="gw-2"] td.node`))); err != nil {
		t.Fatalf("click gw-2 with the mouse: %v", err)
	}
	step("gw-2's state history", 15*time.Second, `[...document.querySelectorAll('#fleet tr.nodedetail .nd li')].some(li => /healthy\s*→/.test(li.textContent))`)
	step("the healer's record shows what a remedy did", 60*time.Second, `[...document.querySelectorAll('#records tbody tr[data-record]')].some(r =>
		r.cells.length === 8 && /^\d+$/.test(r.cells[3].textContent) && Number(r.cells[3].textContent) > 0 && /%/.test(r.cells[4].textContent))`)
	shot(t, ctx, "dashboard.png")
	noScriptErrors(t, ctx)
}

// noScriptErrors fails the test if the page recorded a script error.
func noScriptErrors(t *testing.T, ctx context.Context) {
	t.Helper()
	errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.wshealErrors`))
	if err != nil {
		t.Fatalf("read script errors: %v", err)
	}
	if len(errs) > 0 {
		t.Fatalf("the page had script errors: %q", errs)
	}
}

// browser starts headless Chromium for the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1600, 1050), chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// shot saves a full-page screenshot to the test's temp dir and, when
// WSHEAL_SCREENSHOT_DIR is set, there too.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("WSHEAL_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Errorf("screenshot: %v", err)
			continue
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
			continue
		}
		t.Logf("screenshot: %s", p)
	}
}

// gatewayPID asks the dev supervisor for a gateway's process id.
func gatewayPID(t *testing.T, nc *nats.Conn, node string) int {
	t.Helper()
	var pl events.ProcessList
	if err := events.Request(context.Background(), nc, events.ControlSubject(events.ServiceDev, events.VerbList), events.Empty{}, &pl); err != nil {
		t.Fatalf("dev list: %v", err)
	}
	for _, p := range pl.Processes {
		if p.Name == node && p.Running && p.PID > 0 {
			return p.PID
		}
	}
	t.Fatalf("dev list has no running %s: %+v", node, pl.Processes)
	return 0
}

// dashboardURL is the monitor's own dashboard when the monitor serves it,
// else this package's handler run in the test against the stack's NATS.
func dashboardURL(t *testing.T, s *stack, nc *nats.Conn) string {
	t.Helper()
	mon := fmt.Sprintf("http://127.0.0.1:%d/", s.monitorPort)
	var served bool
	natstest.Eventually(t, 15*time.Second, func() bool {
		resp, err := http.Get(mon)
		if err != nil {
			return false
		}
		resp.Body.Close()
		served = resp.Header.Get(dashboard.Marker) != ""
		return true
	}, "the monitor of wsheal dev never answered at %s", mon)
	if served {
		t.Logf("dashboard served by the monitor at %s", mon)
		return mon
	}
	d := dashboard.New(dashboard.Config{}, testLogger(t))
	hs := httptest.NewServer(d.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nc) }()
	t.Cleanup(func() { cancel(); <-done; hs.Close() })
	t.Logf("the monitor does not serve the dashboard: running it in the test at %s", hs.URL)
	return hs.URL + "/"
}

// stack is a `wsheal dev` child process.
type stack struct {
	dir         string // the data directory: JetStream and logs/*.log
	natsURL     string
	monitorPort int
	out         *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

var natsURLLine = regexp.MustCompile(`NATS\s+(nats://\S+)`)

// startStack builds cmd/wsheal and runs `wsheal dev` until the test ends.
func startStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "wsheal")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..", "..", "cmd", "wsheal")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build wsheal: %v\n%s", err, out)
	}
	gw, mon := freePorts(t, 3), freePorts(t, 1)
	cmd := exec.Command(bin, "dev", "--nats-port", "-1", "--gateway-port", fmt.Sprint(gw),
		"--monitor-port", fmt.Sprint(mon), "--demo-clients", "50", "--quiet", "--data", filepath.Join(dir, "data"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	s := &stack{dir: filepath.Join(dir, "data"), monitorPort: mon, out: &lockedBuffer{}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(s.out, sc.Text())
			if m := natsURLLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case s.natsURL = <-urls:
	case <-done:
		t.Fatalf("wsheal dev exited\n%s", s.out)
	case <-time.After(45 * time.Second):
		t.Fatalf("wsheal dev printed no NATS URL\n%s", s.out)
	}
	return s
}

// logTails is the last lines of every service's log, for a failure
// message: the temporary directory is gone once the test ends.
func (s *stack) logTails() string {
	files, _ := filepath.Glob(filepath.Join(s.dir, "logs", "*.log"))
	var b strings.Builder
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "demo") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines) ---\n%s\n", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// freePorts finds n consecutive free ports on 127.0.0.1 and returns the first.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}
