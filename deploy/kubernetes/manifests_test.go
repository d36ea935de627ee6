package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// base copies the kustomize base (without any secrets/*.env of this
// checkout) into a temporary directory and fills its secrets with
// secrets.sh, as a team does before `kubectl apply -k`.
func base(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "nats/server.conf", "nats/auth.conf")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("./secrets.sh", filepath.Join(dir, "secrets")).CombinedOutput()
	if err != nil {
		t.Fatalf("secrets.sh: %v\n%s", err, out)
	}
	return dir
}

// The base as a whole, and each file of it, pass the API server's own
// validation (strict: an unknown or misspelt field fails too) and its
// admission (the restricted Pod Security Standard of the namespace warns
// about any pod template that would be refused).
func TestManifestsDryRunServer(t *testing.T) {
	needCluster(t)
	dir := base(t)
	// The namespace itself is applied for real: namespaced objects of a
	// dry run need it to exist.
	if out, err := kubectl(t, "apply", "-f", filepath.Join(dir, "namespace.yaml")); err != nil {
		t.Fatalf("kubectl apply -f namespace.yaml: %v\n%s", err, out)
	}
	out, err := kubectl(t, "apply", "-k", dir, "--dry-run=server", "--validate=strict", "-o", "name")
	if err != nil {
		t.Fatalf("kubectl apply -k --dry-run=server: %v\n%s", err, out)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("the API server warns about the manifests:\n%s", out)
	}
	got := map[string]bool{}
	for _, l := range lines(out) {
		got[l] = true
	}
	for _, want := range []string{
		"namespace/wsheal",
		"statefulset.apps/nats", "service/nats", "service/nats-cluster", "poddisruptionbudget.policy/nats",
		"job.batch/setup-streams",
		"statefulset.apps/gw", "service/gateway", "service/gw-headless", "service/gw-0", "service/gw-1", "service/gw-2",
		"poddisruptionbudget.policy/gateway",
		"deployment.apps/monitor", "deployment.apps/healer", "deployment.apps/notifier",
		"poddisruptionbudget.policy/monitor", "poddisruptionbudget.policy/healer", "poddisruptionbudget.policy/notifier",
		"serviceaccount/wsheal-healer", "role.rbac.authorization.k8s.io/wsheal-healer",
		"rolebinding.rbac.authorization.k8s.io/wsheal-healer",
		"networkpolicy.networking.k8s.io/default-deny-ingress", "networkpolicy.networking.k8s.io/nats",
		"networkpolicy.networking.k8s.io/gateway",
	} {
		if !got[want] {
			t.Errorf("the dry run did not pass %s:\n%s", want, out)
		}
	}
	secrets, configs := 0, 0
	for l := range got {
		secrets += b2i(strings.HasPrefix(l, "secret/wsheal-"))
		configs += b2i(strings.HasPrefix(l, "configmap/wsheal-"))
	}
	if secrets != 6 || configs != 2 {
		t.Errorf("%d secrets and %d config maps in the dry run, want 6 and 2:\n%s", secrets, configs, out)
	}

	// Each file alone too (kustomize fills the namespace and the images).
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := kubectl(t, "apply", "-n", "wsheal", "-f", f, "--dry-run=server", "--validate=strict", "-o", "name")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A broken manifest is refused by the same dry run: the check can fail.
func TestManifestsDryRunRejectsBroken(t *testing.T) {
	needCluster(t)
	ns := namespace(t, "broken")
	cases := []struct{ name, yaml, want string }{
		{"selector does not match the template", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: healer}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/name: wsheal-healer}}
  template:
    metadata: {labels: {app.kubernetes.io/name: wsheal-notifier}}
    spec:
      containers: [{name: healer, image: wsheal}]
`, "selector"},
		{"misspelt field", `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: gateway}
spec:
  maxUnavailabel: 1
  selector: {matchLabels: {app.kubernetes.io/name: wsheal-gateway}}
`, "maxUnavailabel"},
		{"budget with both bounds", `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: gateway}
spec:
  minAvailable: 1
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: wsheal-gateway}}
`, "minAvailable"},
		{"role rule without verbs", `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: wsheal-healer}
rules:
  - apiGroups: [""]
    resources: [pods]
`, "verbs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(f, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := kubectl(t, "apply", "-n", ns, "-f", f, "--dry-run=server", "--validate=strict")
			if err == nil {
				t.Fatalf("the broken manifest passed:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("refused, but not for %s:\n%s", c.want, out)
			}
		})
	}
}
