// Package amtest runs a real Prometheus Alertmanager for tests: Debian's
// prometheus-alertmanager (or an alertmanager binary on PATH), on a free
// loopback port, with its storage in the test's temporary directory. A
// test skips, saying so loudly, when no binary is installed (make test and
// .ci/run install it from Debian's packages when they can).
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary finds the Alertmanager binary, "" when there is none.
func Binary() string {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// config routes every alert, grouped by incident, to one receiver: a
// webhook at %s (firing and resolved), or nothing when no URL is given.
const config = `route:
  receiver: sink
  group_by: [incident]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
`

const webhook = `    webhook_configs:
      - url: %q
        send_resolved: true
`

// Start runs an Alertmanager until the test ends and returns its base
// URL once it answers ready. With webhookURL set, its one route sends
// every group there, resolved ones too.
func Start(t testing.TB, webhookURL string) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("SKIPPED: no prometheus-alertmanager binary (apt-get install prometheus-alertmanager); the Alertmanager API v2 test did not run")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	text := config
	if webhookURL != "" {
		text += fmt.Sprintf(webhook, webhookURL)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	log, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("alertmanager log:\n%s", b)
		}
		log.Close()
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager at %s not ready after 20s: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alert is an alert as API v2 lists it (models.GettableAlert, in part).
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
	GeneratorURL string `json:"generatorURL"`
}

// Alerts lists the alerts the Alertmanager at base holds and has not
// seen end (API v2 leaves resolved alerts out).
func Alerts(ctx context.Context, base string) ([]Alert, error) {
	u := base + "/api/v2/alerts"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var out []Alert
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
