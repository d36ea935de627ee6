package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// observability is deploy/observability, from this package's directory.
const observability = "../../deploy/observability"

// needTool finds a binary of Debian's prometheus packages or skips loudly.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIPPED: no %s (apt-get install prometheus prometheus-alertmanager; make test installs them where it can): the observability test did not run", name)
	}
	return p
}

// TestObservabilityRules: the shipped rules pass promtool's check and
// their unit tests, the scrape config promtool's syntax check (its token
// file exists only in the compose deployment); the Alertmanager config
// passes amtool's check.
func TestObservabilityRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	rules := filepath.Join(observability, "rules")
	run := func(dir, bin string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
		}
	}
	run(rules, promtool, "check", "rules", "wsheal.yml")
	run(rules, promtool, "test", "rules", "wsheal_test.yml")
	run(observability, promtool, "check", "config", "--syntax-only", "prometheus.yml")
	if amtool, err := exec.LookPath("amtool"); err == nil {
		run(observability, amtool, "check-config", "alertmanager.yml")
	}
}

// TestObservabilityAgainstDevStack: every service of a `wsheal dev` stack
// serves /metrics that pass `promtool check metrics`, and a real
// Prometheus scraping the stack, with the shipped rules loaded, answers
// every query of the shipped Grafana dashboard with data.
func TestObservabilityAgainstDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	promtool := needTool(t, "promtool")
	prometheus := needTool(t, "prometheus")
	ds := startDev(t, "--demo-clients", "30", "--quiet")
	targets := map[string][]string{ // job -> host:port
		"wsheal-monitor":  {fmt.Sprintf("127.0.0.1:%d", ds.MonitorPort)},
		"wsheal-healer":   {fmt.Sprintf("127.0.0.1:%d", ds.MonitorPort+5)},
		"wsheal-notifier": {fmt.Sprintf("127.0.0.1:%d", ds.MonitorPort+8)},
	}
	for i := range 3 {
		targets["wsheal-gateway"] = append(targets["wsheal-gateway"], fmt.Sprintf("127.0.0.1:%d", ds.GatewayPort+i))
	}
	for job, addrs := range targets {
		for _, addr := range addrs {
			var body []byte
			natstest.Eventually(t, 30*time.Second, func() bool {
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				body, _ = io.ReadAll(resp.Body)
				return resp.StatusCode == http.StatusOK
			}, "%s serving /metrics", job)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("promtool check metrics on %s (%s): %v\n%s", job, addr, err, out)
			}
		}
	}

	base := startPrometheus(t, prometheus, targets)
	natstest.Eventually(t, 60*time.Second, func() bool {
		r, err := promQuery(base, `count(up{job=~"wsheal-.*"} == 1)`)
		return err == nil && len(r) == 1 && r[0].Value[1] == "6"
	}, "Prometheus scraping all six services")

	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile(filepath.Join(observability, "grafana", "wsheal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			natstest.Eventually(t, 60*time.Second, func() bool {
				r, err := promQuery(base, target.Expr)
				return err == nil && len(r) > 0
			}, "panel %q: %s answers no samples", p.Title, target.Expr)
		}
	}
	if queries < 20 {
		t.Fatalf("the dashboard has %d queries", queries)
	}
	rules, err := promGet(base, "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"health":"err"`, `"health":"unknown"`} {
		if strings.Contains(string(rules), bad) {
			t.Errorf("a rule evaluates with %s:\n%s", bad, rules)
		}
	}
	t.Logf("%d dashboard queries answered by Prometheus over the dev stack", queries)
	checkAnalytics(t, ds)
}

// checkAnalytics: five connections to gw-1 that the client closes show in
// `wsheal analytics` as ends of gw-1, the client ends with their messages.
func checkAnalytics(t *testing.T, ds *devStack) {
	t.Helper()
	for range 5 {
		ws, _, err := gws.NewClient(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: fmt.Sprintf("ws://127.0.0.1:%d/ws", ds.GatewayPort)})
		if err != nil {
			t.Fatal(err)
		}
		go ws.ReadLoop()
		if err := ws.WriteString(`{"op":"ping","id":1}`); err != nil {
			t.Fatal(err)
		}
		_ = ws.WriteClose(1000, nil)
	}
	var rows []events.ConnAnalyticsRow
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last analytics output:\n%s", last)
		}
	}()
	natstest.Eventually(t, 30*time.Second, func() bool {
		out, err := ds.run(t, 20*time.Second, "analytics", "--since", "10m", "--json")
		last = fmt.Sprintf("%s (err %v)", out, err)
		if err != nil {
			return false
		}
		var got struct {
			Rows []events.ConnAnalyticsRow `json:"rows"`
		}
		if json.Unmarshal([]byte(out), &got) != nil {
			return false
		}
		rows = got.Rows
		// Under load a close may race the socket's end and count as an
		// error, and the healer may drain gw-1: every end counts.
		closes, clientIn := 0, 0.0
		for _, r := range rows {
			if r.Node == "gw-1" {
				closes += r.Closes
				if r.Cause == events.CauseClient {
					clientIn = r.InPer
				}
			}
		}
		return closes >= 5 && clientIn > 0
	}, "gw-1's closes in wsheal analytics")
	out := ds.mustRun(t, "analytics", "--since", "10m")
	wantAll(t, out, "NODE", "gw-1", "client", "P90")
	t.Logf("wsheal analytics:\n%s", out)
}

// startPrometheus runs Prometheus scraping targets every second with the
// shipped rules, until the test ends; it returns its base URL.
func startPrometheus(t *testing.T, bin string, targets map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join(observability, "rules", "wsheal.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n", rules)
	for job, addrs := range targets {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n", job)
		for i, a := range addrs {
			fmt.Fprintf(&cfg, "      - targets: [%q]\n", a)
			if job == "wsheal-gateway" {
				fmt.Fprintf(&cfg, "        labels: {node: gw-%d}\n", i+1)
			}
		}
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", devtest.FreePorts(t, 1))
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+path, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("prometheus config:\n%s\nlog:\n%s", cfg.String(), b)
		}
		log.Close()
	})
	base := "http://" + addr
	natstest.Eventually(t, 30*time.Second, func() bool {
		_, err := promGet(base, "/-/ready")
		return err == nil
	}, "Prometheus ready")
	return base
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query; an error status or a non-vector
// result is an error.
func promQuery(base, expr string) ([]sample, error) {
	b, err := promGet(base, "/api/v1/query?query="+url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Status != "success" || r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: %s %s (%s)", expr, r.Status, r.Error, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

func promGet(base, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return b, nil
}
