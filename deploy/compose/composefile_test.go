package compose

import (
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

// composeTool finds a compose command; the engine itself is not needed.
func composeTool(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Skip("SKIP compose file checks: neither `docker compose` nor docker-compose is installed")
	return nil
}

// loadConfig renders the compose files as the tool understands them.
func loadConfig(t *testing.T, tool []string, files ...string) composeConfig {
	t.Helper()
	if out, err := exec.Command("go", "run", "./setup", "secrets", "-dir", "secrets").CombinedOutput(); err != nil {
		t.Fatalf("secrets: %v\n%s", err, out)
	}
	args := append(slices.Clone(tool[1:]), "-p", "wsheal-check", "--profile", "demo")
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

func TestComposeFile(t *testing.T) {
	tool := composeTool(t)
	c := loadConfig(t, tool, "docker-compose.yml")
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"bench", "gw-1", "gw-2", "gw-3", "healer", "monitor", "nats-1", "nats-2", "nats-3", "notifier", "receiver", "setup-streams"}
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
		if !strings.HasPrefix(s.Image, "wsheal:") && !strings.HasPrefix(s.Image, "wsheal-nats:") {
			t.Errorf("%s: image %q is not one of ours", n, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.Contains(portString(p), "127.0.0.1") {
				t.Errorf("%s: port %v is not bound to 127.0.0.1", n, p)
			}
		}
	}
	for _, gw := range []string{"gw-1", "gw-2", "gw-3"} {
		s := c.Services[gw]
		if s.Labels["io.wsheal.node"] != gw || s.Environment["WSHEAL_GATEWAY_NODE"] != gw {
			t.Errorf("%s: label %q, node %q", gw, s.Labels["io.wsheal.node"], s.Environment["WSHEAL_GATEWAY_NODE"])
		}
		if s.Environment["WSHEAL_GATEWAY_NATS_REPLICAS"] != "3" {
			t.Errorf("%s: replicas %q", gw, s.Environment["WSHEAL_GATEWAY_NATS_REPLICAS"])
		}
	}
	if h := c.Services["healer"]; h.Environment["WSHEAL_HEALER_RESTART"] != "docker" || !slices.ContainsFunc(h.Volumes, func(v any) bool {
		return strings.Contains(portString(v), "/var/run/docker.sock")
	}) {
		t.Errorf("healer: restart executor %q, volumes %v", h.Environment["WSHEAL_HEALER_RESTART"], h.Volumes)
	}
	checkLeastPrivilege(t, c)
	if !slices.Equal(c.Services["bench"].Profiles, []string{"demo"}) {
		t.Errorf("bench profiles %v, want [demo]", c.Services["bench"].Profiles)
	}
}

// checkLeastPrivilege: the streams are made by the one-shot setup step as
// the operator; every service waits for it and only checks them; each
// gateway has its own NATS user and inbox; and the deployment is secure by
// default (JWT on, an origin list, fleet hosts).
func checkLeastPrivilege(t *testing.T, c composeConfig) {
	t.Helper()
	setup := c.Services["setup-streams"]
	// compose config renders env files into environment.
	if !slices.Contains(setup.Command, "setup-streams") || setup.Environment["NATS_USER"] != "operator" {
		t.Errorf("setup-streams: command %v, NATS user %q", setup.Command, setup.Environment["NATS_USER"])
	}
	for svc, prefix := range map[string]string{"gw-1": "WSHEAL_GATEWAY", "gw-2": "WSHEAL_GATEWAY", "gw-3": "WSHEAL_GATEWAY",
		"monitor": "WSHEAL_MONITOR", "healer": "WSHEAL_HEALER", "notifier": "WSHEAL_NOTIFIER"} {
		s := c.Services[svc]
		if s.Environment[prefix+"_NATS_ENSURE"] != "check" {
			t.Errorf("%s: %s_NATS_ENSURE=%q, want check", svc, prefix, s.Environment[prefix+"_NATS_ENSURE"])
		}
		if s.DependsOn["setup-streams"].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for setup-streams", svc)
		}
		if prefix == "WSHEAL_GATEWAY" {
			if s.Environment[prefix+"_NATS_INBOX_PREFIX"] != "_INBOX_"+svc || s.Environment[prefix+"_NATS_USER"] != svc {
				t.Errorf("%s: inbox %q, user %q: want its own user and inbox", svc, s.Environment[prefix+"_NATS_INBOX_PREFIX"], s.Environment[prefix+"_NATS_USER"])
			}
			if s.Environment[prefix+"_AUTH"] != "jwt" || s.Environment[prefix+"_ALLOWED_ORIGINS"] == "" || s.Environment[prefix+"_FLEET_HOSTS"] == "" {
				t.Errorf("%s: auth %q, origins %q, fleet hosts %q", svc, s.Environment[prefix+"_AUTH"],
					s.Environment[prefix+"_ALLOWED_ORIGINS"], s.Environment[prefix+"_FLEET_HOSTS"])
			}
		}
	}
}

// TestComposeTLSOverride: with the override every service reaches NATS
// over TLS and trusts the local CA, and the servers load the TLS config.
func TestComposeTLSOverride(t *testing.T) {
	tool := composeTool(t)
	c := loadConfig(t, tool, "docker-compose.yml", "docker-compose.tls.yml")
	for _, svc := range []string{"gateway", "monitor", "healer", "notifier"} {
		names := []string{svc}
		if svc == "gateway" {
			names = []string{"gw-1", "gw-2", "gw-3"}
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
