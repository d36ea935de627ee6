package kubernetes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The tools the tests run, built by build-tools.sh (`make kube-tools`).
var tools = []string{"kube-apiserver", "kube-controller-manager", "kubectl", "etcd"}

// kubeVersion is the release build-tools.sh builds (KUBE_VERSION there).
const kubeVersion = "v1.37.2"

// cluster is the control plane every test of this package shares: a real
// etcd, kube-apiserver (started by envtest) and kube-controller-manager.
var cluster struct {
	dir        string // the tools
	missing    string // why the tests skip or fail, when they cannot run
	env        *envtest.Environment
	admin      *rest.Config
	kubeconfig string // the admin's, for kubectl
	cs         clientset.Interface
}

// toolsDir is where the tools are: WSHEAL_KUBE_TOOLS, else KUBEBUILDER_ASSETS,
// else the Makefile's cache.
func toolsDir() string {
	if d := os.Getenv("WSHEAL_KUBE_TOOLS"); d != "" {
		return d
	}
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "wsheal", "kube", kubeVersion)
}

func TestMain(m *testing.M) {
	cluster.dir = toolsDir()
	for _, t := range tools {
		if st, err := os.Stat(filepath.Join(cluster.dir, t)); err != nil || st.Mode()&0o111 == 0 {
			cluster.missing += " " + t
		}
	}
	if cluster.missing != "" {
		cluster.missing = fmt.Sprintf("no%s in %s: run `make kube-tools` (it builds them once, ~10+ minutes)", cluster.missing, cluster.dir)
		os.Exit(m.Run())
	}
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "control plane:", err)
		stop()
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// needCluster skips (WSHEAL_KUBE_SKIP=1 and the tools absent) or fails a
// test that cannot have its control plane.
func needCluster(t *testing.T) {
	t.Helper()
	if cluster.missing == "" {
		return
	}
	if os.Getenv("WSHEAL_KUBE_SKIP") == "1" {
		t.Skip("WSHEAL_KUBE_SKIP=1 and " + cluster.missing)
	}
	t.Fatal(cluster.missing + " (or set WSHEAL_KUBE_SKIP=1 to skip)")
}

// start runs etcd and kube-apiserver (envtest) and kube-controller-manager;
// stop ends whatever started.
func start() (stop func(), err error) {
	env := &envtest.Environment{BinaryAssetsDirectory: cluster.dir, ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout: 30 * time.Second}
	api := env.ControlPlane.GetAPIServer()
	api.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	cluster.env = env
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return stop, fmt.Errorf("envtest: %w", err)
	}
	stops = append(stops, func() { _ = env.Stop() })
	cluster.admin = cfg
	if cluster.cs, err = clientset.NewForConfig(cfg); err != nil {
		return stop, err
	}
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "wsheal-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return stop, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return stop, err
	}
	dir, err := os.MkdirTemp("", "wsheal-kube-")
	if err != nil {
		return stop, err
	}
	stops = append(stops, func() { _ = os.RemoveAll(dir) })
	cluster.kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(cluster.kubeconfig, kc, 0o600); err != nil {
		return stop, err
	}
	kcm, err := startControllerManager(dir)
	if err != nil {
		return stop, err
	}
	stops = append(stops, kcm)
	return stop, nil
}

// startControllerManager runs the controllers the tests need: Deployments,
// ReplicaSets, StatefulSets, disruption budgets, garbage collection.
func startControllerManager(dir string) (func(), error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(os.TempDir(), "wsheal-kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(cluster.dir, "kube-controller-manager"),
		"--kubeconfig="+cluster.kubeconfig,
		"--leader-elect=false",
		"--controllers=deployment-controller,replicaset-controller,statefulset-controller,disruption-controller,garbage-collector-controller",
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--cert-dir="+filepath.Join(dir, "kcm"),
		"--concurrent-deployment-syncs=2", "--concurrent-replicaset-syncs=2",
		"--v=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("kube-controller-manager: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
	}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kubectl runs kubectl as the admin; it returns stdout and stderr together.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(cluster.dir, "kubectl"), append([]string{"--kubeconfig=" + cluster.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// namespace creates a namespace of its own for a test.
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := cluster.cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// lines trims and splits output into its non-empty lines.
func lines(out string) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	return l
}
