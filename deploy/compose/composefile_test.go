package compose

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeConfig is the part of `compose config` output the checks read.
type composeConfig struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Scale       int               `yaml:"scale"`
		Command     []string          `yaml:"command"`
		Restart     string            `yaml:"restart"`
		Profiles    []string          `yaml:"profiles"`
		Labels      map[string]string `yaml:"labels"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Ports   []any `yaml:"ports"`
		Volumes []any `yaml:"volumes"`
	} `yaml:"services"`
}

// composeTools finds every compose command here, for the file must stay
// valid for each: `docker compose` (the plugin), docker-compose (1.29 on
// Debian, or a standalone current one) and $WSHEAL_COMPOSE_V2 (the current
// Compose that `make test` builds once from its Go module). The engine
// itself is not needed.
func composeTools(t *testing.T) [][]string {
	t.Helper()
	var tools [][]string
	if exec.Command("docker", "compose", "version").Run() == nil {
		tools = append(tools, []string{"docker", "compose"})
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		tools = append(tools, []string{"docker-compose"})
	}
	if p := os.Getenv("WSHEAL_COMPOSE_V2"); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			tools = append(tools, []string{p})
		} else {
			t.Logf("WSHEAL_COMPOSE_V2=%s: not built (make compose-tool)", p)
		}
	}
	if len(tools) == 0 {
		t.Skip("SKIP compose file checks: neither `docker compose` nor docker-compose is installed")
	}
	return tools
}

// eachTool runs check once per compose tool found, as a subtest named by
// the tool's version.
func eachTool(t *testing.T, check func(t *testing.T, tool []string)) {
	for _, tool := range composeTools(t) {
		out, _ := exec.Command(tool[0], append(slices.Clone(tool[1:]), "version", "--short")...).Output()
		name := strings.Join(tool, " ") + " " + strings.TrimSpace(string(out))
		t.Run(name, func(t *testing.T) { check(t, tool) })
	}
}

// loadConfig renders the compose files as the tool understands them.
func loadConfig(t *testing.T, tool []string, files ...string) composeConfig {
	t.Helper()
	if out, err := exec.Command("go", "run", "./setup", "secrets", "-dir", "secrets").CombinedOutput(); err != nil {
		t.Fatalf("secrets: %v\n%s", err, out)
	}
	args := append(slices.Clone(tool[1:]), "-p", "wsheal-check", "--profile", "demo", "--profile", "observability")
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, err := exec.Command(tool[0], append(args, "config")...).Output()
	if err != nil {
		t.Fatalf("%s config: %v\n%s", strings.Join(tool, " "), err, out)
	}
	var c composeConfig
	if err := yaml.Unmarshal(out, &c); err != nil {
		t.Fatalf("compose config output: %v", err)
	}
	return c
}

func TestComposeFile(t *testing.T) { eachTool(t, checkComposeFile) }

func checkComposeFile(t *testing.T, tool []string) {
	c := loadConfig(t, tool, "docker-compose.yml")
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"alertmanager", "bench", "gateway", "healer", "healer-2", "lb", "monitor", "monitor-2", "nats-1", "nats-2", "nats-3",
		"notifier", "notifier-2", "prometheus", "receiver", "setup-streams"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	for _, n := range names {
		s := c.Services[n]
		oneShot := n == "setup-streams"
		if s.Restart != "unless-stopped" && !(oneShot && s.Restart == "on-failure") {
			t.Errorf("%s: restart %q", n, s.Restart)
		}
		if n != "bench" && !oneShot && len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s: no healthcheck", n)
		}
		if !slices.ContainsFunc([]string{"wsheal:", "wsheal-tools:", "wsheal-nats:", "wsheal-lb:", "wsheal-prometheus:", "wsheal-alertmanager:"},
			func(p string) bool { return strings.HasPrefix(s.Image, p) }) {
			t.Errorf("%s: image %q is not one of ours", n, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.Contains(portString(p), "127.0.0.1") {
				t.Errorf("%s: port %v is not bound to 127.0.0.1", n, p)
			}
		}
	}
	// The gateways: one definition, three replicas by default, each named
	// by its container (no node id, no host port of its own), reached
	// through the load balancer's per-node route, found by the healer by
	// the @hostname label.
	gw := c.Services["gateway"]
	if gw.Scale != 3 {
		t.Errorf("gateway: scale %d, want 3 by default", gw.Scale)
	}
	if gw.Labels["io.wsheal.node"] != "@hostname" || gw.Environment["WSHEAL_GATEWAY_NODE"] != "" {
		t.Errorf("gateway: label %q, node %q: want @hostname and the host name as node id", gw.Labels["io.wsheal.node"], gw.Environment["WSHEAL_GATEWAY_NODE"])
	}
	if len(gw.Ports) != 0 {
		t.Errorf("gateway: ports %v: a scaled service cannot publish fixed host ports", gw.Ports)
	}
	if gw.Environment["WSHEAL_GATEWAY_NATS_REPLICAS"] != "3" {
		t.Errorf("gateway: replicas %q", gw.Environment["WSHEAL_GATEWAY_NATS_REPLICAS"])
	}
	if u := gw.Environment["WSHEAL_GATEWAY_PUBLIC_URL"]; u != "ws://127.0.0.1:8080/node/{node}/ws" {
		t.Errorf("gateway: public URL %q, want its route through the load balancer", u)
	}
	if u := gw.Environment["WSHEAL_GATEWAY_INTERNAL_URL"]; u != "http://{node}:8080" {
		t.Errorf("gateway: internal URL %q, want its own name on the compose network", u)
	}
	if lb := c.Services["lb"].Environment; lb["WSHEAL_LB_GATEWAYS"] != "gateway:8080" || lb["WSHEAL_LB_GATEWAY_PORT"] != "8080" {
		t.Errorf("lb: does not find the gateways by their service name (%v)", lb)
	}
	// Scale on demand: the healers' floor is the monitors' (a fleet at
	// its floor is never underused), and the default scale lies within.
	for _, n := range []string{"monitor", "monitor-2"} {
		for _, h := range []string{"healer", "healer-2"} {
			floor, min := c.Services[n].Environment["WSHEAL_MONITOR_FLEET_UNDERUSED_FLOOR"], c.Services[h].Environment["WSHEAL_HEALER_SCALE_MIN"]
			if floor != "3" || min != "3" || c.Services[h].Environment["WSHEAL_HEALER_SCALE_MAX"] != "6" {
				t.Errorf("%s floor %q, %s scale min %q max %q: want 3, 3, 6", n, floor, h, min, c.Services[h].Environment["WSHEAL_HEALER_SCALE_MAX"])
			}
		}
	}
	for _, svc := range []string{"gateway", "monitor", "monitor-2", "healer", "healer-2"} {
		prefix := "WSHEAL_" + strings.ToUpper(strings.TrimSuffix(svc, "-2")) + "_FLEET_HOSTS"
		if h := c.Services[svc].Environment[prefix]; h != "127.0.0.1,{node}" {
			t.Errorf("%s: %s=%q: want the balancer's host and each node's own name", svc, prefix, h)
		}
	}
	if h := c.Services["healer"]; h.Environment["WSHEAL_HEALER_RESTART"] != "docker" || !slices.ContainsFunc(h.Volumes, func(v any) bool {
		return strings.Contains(portString(v), "/var/run/docker.sock")
	}) {
		t.Errorf("healer: restart executor %q, volumes %v", h.Environment["WSHEAL_HEALER_RESTART"], h.Volumes)
	}
	checkLeastPrivilege(t, c)
	checkReplicas(t, c)
	// The demo load runs from the tools' image, the only service that
	// does: the services' image holds no bench code.
	for n, s := range c.Services {
		if tools := strings.HasPrefix(s.Image, "wsheal-tools:"); tools != (n == "bench") {
			t.Errorf("%s: image %q (only bench runs wsheal-tools)", n, s.Image)
		}
	}
	if !slices.Equal(c.Services["bench"].Profiles, []string{"demo"}) {
		t.Errorf("bench profiles %v, want [demo]", c.Services["bench"].Profiles)
	}
	for _, n := range []string{"prometheus", "alertmanager"} {
		if !slices.Equal(c.Services[n].Profiles, []string{"observability"}) {
			t.Errorf("%s profiles %v, want [observability]", n, c.Services[n].Profiles)
		}
	}
	for svc, env := range map[string]string{"healer": "WSHEAL_HEALER_LISTEN", "notifier": "WSHEAL_NOTIFIER_LISTEN"} {
		if !strings.HasPrefix(c.Services[svc].Environment[env], "0.0.0.0:") {
			t.Errorf("%s: %s=%q: Prometheus cannot reach its /metrics", svc, env, c.Services[svc].Environment[env])
		}
	}
}

// checkLeastPrivilege: the streams are made by the one-shot setup step as
// the operator; every service waits for it and only checks them; each
// gateway replica uses the gateways' NATS user and inbox; and the deployment is secure by
// default (JWT on, an origin list, fleet hosts).
func checkLeastPrivilege(t *testing.T, c composeConfig) {
	t.Helper()
	setup := c.Services["setup-streams"]
	// compose config renders env files into environment.
	if !slices.Contains(setup.Command, "setup-streams") || setup.Environment["NATS_USER"] != "operator" {
		t.Errorf("setup-streams: command %v, NATS user %q", setup.Command, setup.Environment["NATS_USER"])
	}
	for svc, prefix := range map[string]string{"gateway": "WSHEAL_GATEWAY",
		"monitor": "WSHEAL_MONITOR", "healer": "WSHEAL_HEALER", "notifier": "WSHEAL_NOTIFIER",
		"monitor-2": "WSHEAL_MONITOR", "healer-2": "WSHEAL_HEALER", "notifier-2": "WSHEAL_NOTIFIER"} {
		s := c.Services[svc]
		if s.Environment[prefix+"_NATS_ENSURE"] != "check" {
			t.Errorf("%s: %s_NATS_ENSURE=%q, want check", svc, prefix, s.Environment[prefix+"_NATS_ENSURE"])
		}
		if s.DependsOn["setup-streams"].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for setup-streams", svc)
		}
		if prefix == "WSHEAL_GATEWAY" {
			if s.Environment[prefix+"_NATS_INBOX_PREFIX"] != "_INBOX_gw" || s.Environment[prefix+"_NATS_USER"] != "gateway" {
				t.Errorf("%s: inbox %q, user %q: want the gateways' user and inbox", svc, s.Environment[prefix+"_NATS_INBOX_PREFIX"], s.Environment[prefix+"_NATS_USER"])
			}
			if s.Environment[prefix+"_AUTH"] != "jwt" || s.Environment[prefix+"_ALLOWED_ORIGINS"] == "" || s.Environment[prefix+"_FLEET_HOSTS"] == "" {
				t.Errorf("%s: auth %q, origins %q, fleet hosts %q", svc, s.Environment[prefix+"_AUTH"],
					s.Environment[prefix+"_ALLOWED_ORIGINS"], s.Environment[prefix+"_FLEET_HOSTS"])
			}
		}
	}
}

// controlPlane is the control plane's replicas: service -> its compose
// services, the first keeping the plain name.
var controlPlane = map[string][]string{
	"monitor":  {"monitor", "monitor-2"},
	"healer":   {"healer", "healer-2"},
	"notifier": {"notifier", "notifier-2"},
}

// checkReplicas: two replicas of each control-plane service, in their own
// containers, with their own instance names and healthchecks that ask
// their own process; the same NATS user, inbox prefix and settings
// otherwise; the monitors' dashboards on two host ports; both healers
// able to restart gateways.
func checkReplicas(t *testing.T, c composeConfig) {
	t.Helper()
	instances := map[string]bool{}
	for svc, names := range controlPlane {
		prefix := "WSHEAL_" + strings.ToUpper(svc) + "_"
		first := c.Services[names[0]]
		for i, n := range names {
			s := c.Services[n]
			inst := s.Environment[prefix+"INSTANCE"]
			if inst != fmt.Sprintf("%s-%d", svc, i+1) || instances[inst] {
				t.Errorf("%s: %sINSTANCE=%q, want %s-%d, unique", n, prefix, inst, svc, i+1)
			}
			instances[inst] = true
			if s.Environment[prefix+"NATS_USER"] != svc || s.Environment[prefix+"NATS_INBOX_PREFIX"] != "_INBOX_"+svc {
				t.Errorf("%s: NATS user %q, inbox %q: want the service's own, %s and _INBOX_%s", n,
					s.Environment[prefix+"NATS_USER"], s.Environment[prefix+"NATS_INBOX_PREFIX"], svc, svc)
			}
			// A healthcheck over the service's NATS subject is answered by
			// whichever replica is alive: it must ask this container.
			if test := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(test, "http://127.0.0.1:") {
				t.Errorf("%s: healthcheck %q does not ask its own process", n, test)
			}
			for k, v := range first.Environment {
				if k != prefix+"INSTANCE" && s.Environment[k] != v {
					t.Errorf("%s: %s=%q, %s has %q", n, k, s.Environment[k], names[0], v)
				}
			}
			if !slices.Equal(s.Command, first.Command) || s.Image != first.Image || s.Restart != "unless-stopped" {
				t.Errorf("%s: command %v image %q restart %q differ from %s", n, s.Command, s.Image, s.Restart, names[0])
			}
		}
	}
	mon := []string{}
	for _, n := range controlPlane["monitor"] {
		for _, p := range c.Services[n].Ports {
			mon = append(mon, portString(p))
		}
	}
	if len(mon) != 2 || mon[0] == mon[1] {
		t.Errorf("monitor dashboards published on %v, want one host port per replica", mon)
	}
	for _, n := range controlPlane["healer"] {
		h := c.Services[n]
		if h.Environment["WSHEAL_HEALER_RESTART"] != "docker" || !slices.ContainsFunc(h.Volumes, func(v any) bool {
			return strings.Contains(portString(v), "/var/run/docker.sock")
		}) {
			t.Errorf("%s: restart executor %q, volumes %v", n, h.Environment["WSHEAL_HEALER_RESTART"], h.Volumes)
		}
	}
	if d := c.Services["notifier-2"].DependsOn["receiver"].Condition; d != "service_healthy" {
		t.Errorf("notifier-2 does not wait for the receiver (%q)", d)
	}
}

// TestComposeTLSOverride: with the override every service reaches NATS
// over TLS and trusts the local CA, and the servers load the TLS config.
func TestComposeTLSOverride(t *testing.T) { eachTool(t, checkTLSOverride) }

func checkTLSOverride(t *testing.T, tool []string) {
	c := loadConfig(t, tool, "docker-compose.yml", "docker-compose.tls.yml")
	for _, svc := range []string{"gateway", "monitor", "healer", "notifier"} {
		names := controlPlane[svc]
		if svc == "gateway" {
			names = []string{"gateway"}
		}
		prefix := "WSHEAL_" + strings.ToUpper(svc) + "_NATS_"
		for _, n := range names {
			env := c.Services[n].Environment
			for _, u := range strings.Split(env[prefix+"URL"], ",") {
				if !strings.HasPrefix(u, "tls://") {
					t.Errorf("%s: NATS URL %q is not tls://", n, u)
				}
			}
			if env[prefix+"CA"] == "" {
				t.Errorf("%s: no %sCA", n, prefix)
			}
		}
	}
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		if cmd := c.Services[n].Command; !slices.Contains(cmd, "/etc/nats/server-tls.conf") {
			t.Errorf("%s: command %v does not load server-tls.conf", n, cmd)
		}
	}
}

// portString renders a port or volume entry, short or long syntax.
func portString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		var parts []string
		for _, k := range []string{"host_ip", "published", "target", "source"} {
			if s, ok := x[k]; ok {
				parts = append(parts, strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(yamlString(s), "\n", ""), " ", "")))
			}
		}
		return strings.Join(parts, ":")
	}
	return yamlString(v)
}

func yamlString(v any) string {
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}
