package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// TestComposeObservability brings the stack up with the profile
// observability (Prometheus and Alertmanager, images built here FROM
// scratch) and docker-compose.observability.yml: Prometheus scrapes every
// wsheal service as up and answers the dashboard's queries; a killed
// gateway's incident reaches the Alertmanager container as a firing
// WshealIncident alert, which resolves once the healer has restarted the
// gateway. It needs a Docker engine and skips loudly without one; -short
// or WSHEAL_E2E=0 skips it on purpose.
func TestComposeObservability(t *testing.T) {
	if testing.Short() || os.Getenv("WSHEAL_E2E") == "0" {
		t.Skip("SKIP compose observability e2e: -short or WSHEAL_E2E=0")
	}
	compose := composeCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	s := newStack(t, compose)
	// Every incident pages at once here, so that its alert is seen firing
	// before the healer resolves it.
	pageAll := filepath.Join(t.TempDir(), "page-all.yml")
	if err := os.WriteFile(pageAll, []byte("services:\n  notifier:\n    environment:\n      WSHEAL_NOTIFIER_PAGE_SEVERITIES: SEV1,SEV2,SEV3,SEV4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.files = []string{"docker-compose.observability.yml", pageAll}
	s.base = append(s.base, "COMPOSE_PROFILES=observability", "OBS_IMAGE_CTX="+t.TempDir())
	s.env = s.base
	t.Log("building the images (make images observability-images) and the secrets")
	s.build(ctx)
	out, err := s.run(ctx, "make", "-C", "../..", "observability-images")
	t.Cleanup(func() {
		for _, img := range []string{"wsheal-prometheus", "wsheal-alertmanager"} {
			_, _ = s.run(context.Background(), "docker", "rmi", img+":"+s.project)
		}
	})
	if err != nil {
		t.Fatalf("make observability-images: %v\n%s", err, out)
	}
	s.up(ctx)
	prom := fmt.Sprintf("http://127.0.0.1:%d", s.ports["WSHEAL_PROMETHEUS_PORT"])
	am := fmt.Sprintf("http://127.0.0.1:%d", s.ports["WSHEAL_ALERTMANAGER_PORT"])

	t.Run("prometheus scrapes every service", func(t *testing.T) {
		want := map[string]int{"wsheal-gateway": 3, "wsheal-monitor": 2, "wsheal-healer": 2, "wsheal-notifier": 2}
		var last string
		eventually(t, 2*time.Minute, "every wsheal target up", func() bool {
			up, state := promTargets(ctx, prom)
			last = state
			for job, n := range want {
				if up[job] != n {
					return false
				}
			}
			return true
		})
		t.Logf("targets: %s", last)
		// The scaled gateways are found through the monitors' service
		// discovery, each series named by its node as the events name it.
		for _, gw := range s.gateways(ctx) {
			expr := `up{job="wsheal-gateway",node="` + gw.node + `"} == 1`
			eventually(t, time.Minute, expr, func() bool { return promSeries(ctx, prom, expr) == 1 })
		}
	})
	t.Run("prometheus answers the dashboard", func(t *testing.T) {
		for _, title := range []string{"Connections", "Nodes by state"} {
			expr := dashboardExpr(t, title)
			var n int
			eventually(t, time.Minute, "data for the panel "+title+": "+expr, func() bool {
				n = promSeries(ctx, prom, expr)
				return n > 0
			})
			t.Logf("panel %q: %s: %d series", title, expr, n)
		}
	})
	t.Run("an incident is an alert in alertmanager", func(t *testing.T) {
		nc := s.operator()
		audit := watchRemediations(t, nc)
		gw := s.gateways(ctx)[0]
		s.docker(ctx, "kill", gw.id)
		var alert amAlert
		eventually(t, 3*time.Minute, "a firing WshealIncident alert about "+gw.node, func() bool {
			for _, a := range amAlerts(ctx, am) {
				if a.Labels["incident"] != "" && strings.Contains(a.Annotations["nodes"], gw.node) && a.Status.State == "active" {
					alert = a
					return true
				}
			}
			return false
		})
		t.Logf("alert %v %v", alert.Labels, alert.Annotations["summary"])
		eventually(t, 4*time.Minute, "the alert of "+alert.Labels["incident"]+" resolved", func() bool {
			for _, a := range amAlerts(ctx, am) {
				if a.Labels["incident"] == alert.Labels["incident"] {
					return false
				}
			}
			return true
		})
		// Gone from the list because the incident resolved: the healer
		// restarted the gateway and the notifier closed the incident.
		eventually(t, time.Minute, "the healer restarted "+gw.node, func() bool {
			return audit.succeeded(events.ActionRestart, gw.node)
		})
		ids, _ := checkIncidents(ctx, t, nc, []string{gw.node})
		if !slices.Contains(ids, alert.Labels["incident"]) {
			t.Errorf("the alert's incident %s is not among the resolved incidents of %s %v", alert.Labels["incident"], gw.node, ids)
		}
	})
}

// promTargets counts the healthy active targets per job, and describes
// every target's health.
func promTargets(ctx context.Context, base string) (map[string]int, string) {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if getJSON(ctx, base+"/api/v1/targets?state=active", &r) != nil {
		return nil, "no answer"
	}
	up := map[string]int{}
	var b strings.Builder
	for _, tg := range r.Data.ActiveTargets {
		if tg.Health == "up" {
			up[tg.Labels["job"]]++
		}
		fmt.Fprintf(&b, "%s/%s=%s%s ", tg.Labels["job"], tg.Labels["instance"], tg.Health, tg.LastError)
	}
	return up, b.String()
}

// promSeries is the number of series an instant query returns.
func promSeries(ctx context.Context, base, expr string) int {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if getJSON(ctx, base+"/api/v1/query?query="+url.QueryEscape(expr), &r) != nil || r.Status != "success" {
		return 0
	}
	return len(r.Data.Result)
}

// dashboardExpr is the first query of the shipped Grafana dashboard's
// panel with that title.
func dashboardExpr(t *testing.T, title string) string {
	raw, err := os.ReadFile("../observability/grafana/wsheal.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		if p.Title == title && len(p.Targets) > 0 && p.Targets[0].Expr != "" {
			return p.Targets[0].Expr
		}
	}
	t.Fatalf("the dashboard has no panel %q with a query", title)
	return ""
}

// amAlert is an alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts lists the WshealIncident alerts Alertmanager holds (API v2:
// resolved ones are not listed).
func amAlerts(ctx context.Context, base string) []amAlert {
	var out []amAlert
	if getJSON(ctx, base+"/api/v2/alerts?filter="+url.QueryEscape(`alertname="WshealIncident"`), &out) != nil {
		return nil
	}
	return out
}

func getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}

// TestComposeObservabilityOverride: docker-compose.observability.yml
// points the notifier at the profile's Alertmanager and leaves the rest of
// its environment as docker-compose.yml has it; the notifier accepts the
// result (checked without Docker by `compose config`).
func TestComposeObservabilityOverride(t *testing.T) { eachTool(t, checkObservabilityOverride) }

func checkObservabilityOverride(t *testing.T, tool []string) {
	base := loadConfig(t, tool, "docker-compose.yml")
	over := loadConfig(t, tool, "docker-compose.yml", "docker-compose.observability.yml")
	notifiers := []string{"notifier", "notifier-2"}
	for _, svc := range notifiers {
		env := over.Services[svc].Environment
		if got := env["WSHEAL_NOTIFIER_ALERTMANAGER_API_URL"]; got != "http://alertmanager:9093" {
			t.Errorf("%s's ALERTMANAGER_API_URL %q, want http://alertmanager:9093", svc, got)
		}
		first, _, _ := strings.Cut(env["WSHEAL_NOTIFIER_ESCALATION"], ";")
		first, _, _ = strings.Cut(first, "@")
		if !slices.Contains(strings.Split(first, ","), "alertmanager") {
			t.Errorf("%s: escalation %q: alertmanager not in the first level", svc, env["WSHEAL_NOTIFIER_ESCALATION"])
		}
		for k, v := range base.Services[svc].Environment {
			if env[k] != v {
				t.Errorf("the override changed %s of %s: %q, was %q", k, svc, env[k], v)
			}
		}
	}
	for name := range base.Services {
		if !slices.Contains(notifiers, name) && !reflect.DeepEqual(base.Services[name].Environment, over.Services[name].Environment) {
			t.Errorf("the override changed the environment of %s", name)
		}
	}
}
