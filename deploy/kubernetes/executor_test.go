package kubernetes

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	kube "github.com/wsheal/wsheal/services/healer/executor/kubernetes"
)

const gatewaySelector = "app.kubernetes.io/name=wsheal-gateway"

// healerConfig is a client config authenticated as the healer's
// ServiceAccount in ns: every call the executor makes is authorized by the
// Role of healer-rbac.yaml, and by nothing else.
func healerConfig(t *testing.T, ns string) *rest.Config {
	t.Helper()
	out, err := kubectl(t, "apply", "-n", ns, "-f", "healer-rbac.yaml")
	if err != nil {
		t.Fatalf("apply healer-rbac.yaml: %v\n%s", err, out)
	}
	u, err := cluster.env.ControlPlane.AddUser(envtest.User{Name: "system:serviceaccount:" + ns + ":wsheal-healer",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Config()
}

// gateways creates a Deployment of n gateway pods in ns and a budget that
// lets maxUnavailable of them go at once.
func gateways(t *testing.T, ns string, n int32, maxUnavailable int) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app.kubernetes.io/name": "wsheal-gateway"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "gateway", Image: "wsheal", Args: []string{"serve", "gateway"}}}},
			},
		},
	}
	if _, err := cluster.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mu := intstr.FromInt32(int32(maxUnavailable))
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &mu, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if _, err := cluster.cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// livePods lists ns's gateway pods that are not terminating, by uid.
func livePods(t *testing.T, ns string) map[types.UID]corev1.Pod {
	t.Helper()
	l, err := cluster.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: gatewaySelector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[types.UID]corev1.Pod{}
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out[p.UID] = p
		}
	}
	return out
}

// kubelet plays the part of the kubelet the test cluster has none of: it
// reports every gateway pod of ns running, and ready while ready() says so,
// until the test ends. The disruption controller counts ready pods against
// the budget (and the Eviction API lets a Pending pod go regardless).
// A pod bound to a node (spec.nodeName) that is being deleted is removed
// once its grace is noted, as the kubelet does once its containers stopped;
// the returned map holds each such pod's termination grace by uid.
func kubelet(t *testing.T, ns string, ready func() bool) *sync.Map {
	var graces sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			l, err := cluster.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: gatewaySelector})
			if err == nil {
				for i := range l.Items {
					if p := &l.Items[i]; p.DeletionTimestamp != nil && p.Spec.NodeName != "" {
						graces.Store(p.UID, *p.DeletionGracePeriodSeconds)
						_ = cluster.cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
						continue
					}
					report(ctx, &l.Items[i], ready())
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return &graces
}

// report writes a running pod's status, ready or not, unless it says so.
func report(ctx context.Context, p *corev1.Pod, ready bool) {
	want := corev1.ConditionFalse
	if ready {
		want = corev1.ConditionTrue
	}
	if p.DeletionTimestamp != nil {
		return
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == want && p.Status.Phase == corev1.PodRunning {
			return
		}
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: want, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: want, LastTransitionTime: now},
	}
	_, _ = cluster.cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

// allowed is the budget's disruptionsAllowed as the disruption controller
// last wrote it (-1 before it did).
func allowed(t *testing.T, ns string) int32 {
	t.Helper()
	pdb, err := cluster.cs.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), "gateway", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Status.ObservedGeneration < pdb.Generation || pdb.Status.ExpectedPods == 0 {
		return -1
	}
	return pdb.Status.DisruptionsAllowed
}

func names(m map[types.UID]corev1.Pod) []string {
	var out []string
	for _, p := range m {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// The executor, as the healer's ServiceAccount, evicts the pod running the
// node it is asked about (and no other), the ReplicaSet recreates it, and
// the executor names the replacement by its new uid; while the budget
// refuses, it does not evict, and deletes only where the fallback is on.
func TestExecutorEvictsTheNodesPod(t *testing.T) {
	needCluster(t)
	ns := namespace(t, "heal")
	rc := healerConfig(t, ns)
	gateways(t, ns, 3, 1)
	natstest.Eventually(t, time.Minute, func() bool { return len(livePods(t, ns)) == 3 },
		"the ReplicaSet never made 3 pods")

	ctx := context.Background()
	blocked, err := kube.New(rc, kube.Config{Namespace: ns, Selector: gatewaySelector, EvictFor: time.Second,
		Wait: 30 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	// The pods run but none is ready yet: the budget allows no disruption,
	// the eviction is refused for EvictFor and nothing is removed.
	var ready atomic.Bool
	kubelet(t, ns, ready.Load)
	natstest.Eventually(t, time.Minute, func() bool {
		for _, p := range livePods(t, ns) {
			if p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return allowed(t, ns) == 0
	}, "the pods never ran, or the budget was never computed")
	before := livePods(t, ns)
	target := names(before)[1]
	if _, err := blocked.RestartNode(ctx, target, time.Time{}); !errors.Is(err, kube.ErrBlocked) {
		t.Fatalf("eviction under a budget allowing none: err %v, want ErrBlocked", err)
	}
	if got := livePods(t, ns); len(got) != 3 || names(got)[1] != target {
		t.Fatalf("a refused eviction removed a pod: %v, was %v", names(got), names(before))
	}

	// The pods become ready: the budget allows one.
	ready.Store(true)
	natstest.Eventually(t, time.Minute, func() bool { return allowed(t, ns) == 1 }, "the budget never allowed one disruption")
	before = livePods(t, ns)
	var old corev1.Pod
	for _, p := range before {
		if p.Name == target {
			old = p
		}
	}
	start := time.Now()
	res, err := blocked.RestartNode(ctx, target, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: %s", res)
	if res.Pod != target || res.OldUID != old.UID || res.Deleted || res.Already {
		t.Fatalf("restart result %+v: want %s (uid %s) evicted", res, target, old.UID)
	}
	if _, err := cluster.cs.CoreV1().Pods(ns).Get(ctx, target, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the evicted pod %s is still there: %v", target, err)
	}
	after := livePods(t, ns)
	if _, ok := before[res.NewUID]; ok || res.NewUID == "" {
		t.Fatalf("the replacement uid %q is not new", res.NewUID)
	}
	repl, ok := after[res.NewUID]
	if !ok {
		t.Fatalf("the replacement %s (uid %s) is not among the pods %v", res.NewPod, res.NewUID, names(after))
	}
	if metav1.GetControllerOf(&repl).UID != metav1.GetControllerOf(&old).UID {
		t.Fatalf("the replacement belongs to another controller")
	}
	for uid, p := range before {
		if uid == old.UID {
			continue
		}
		if _, ok := after[uid]; !ok {
			t.Fatalf("pod %s (not the target) was removed", p.Name)
		}
	}

	// Asked again for the same attempt (a replica that crashed before
	// recording the restart), the executor sees the node's pod is newer
	// than the attempt and leaves it.
	// (Creation times have whole seconds: the replacement's is at or after
	// start's second, so after start - 1s.)
	again, err := blocked.RestartNode(ctx, res.NewPod, start.Add(-time.Second))
	if err != nil || !again.Already || again.NewUID != res.NewUID {
		t.Fatalf("repeated restart: %+v, %v: want the replacement, already done", again, err)
	}
	if got := livePods(t, ns); len(got) != 3 {
		t.Fatalf("a repeated restart changed the pods: %v", names(got))
	}

	// A budget that allows nothing (maxUnavailable 0): the executor whose
	// policy allows the fallback deletes the pod after EvictFor.
	// (A patch: the disruption controller keeps writing the budget's status.)
	if _, err := cluster.cs.PolicyV1().PodDisruptionBudgets(ns).Patch(ctx, "gateway", types.MergePatchType,
		[]byte(`{"spec":{"maxUnavailable":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, time.Minute, func() bool { return allowed(t, ns) == 0 }, "the budget never went to 0")
	fallback, err := kube.New(rc, kube.Config{Namespace: ns, Selector: gatewaySelector, EvictFor: 500 * time.Millisecond,
		DeleteFallback: true, Wait: 30 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	before = livePods(t, ns)
	target = names(before)[0]
	res, err = fallback.RestartNode(ctx, target, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: %s", res)
	if res.Pod != target || !res.Deleted {
		t.Fatalf("restart result %+v: want %s deleted", res, target)
	}
	if _, ok := livePods(t, ns)[res.NewUID]; !ok {
		t.Fatalf("the replacement %s is not live", res.NewUID)
	}
	if _, err := blocked.RestartNode(ctx, "gw-no-such-node", time.Time{}); !errors.Is(err, kube.ErrNotFound) {
		t.Fatalf("unknown node: %v, want ErrNotFound", err)
	}
}

// The executor's config fails clearly: no kubeconfig outside a cluster, a
// bad selector.
func TestExecutorConfigErrors(t *testing.T) {
	if _, err := kube.RESTConfig(kube.Config{Kubeconfig: filepath.Join(t.TempDir(), "none")}); !errors.Is(err, kube.ErrConfig) {
		t.Fatalf("missing kubeconfig: %v", err)
	}
	if _, err := kube.New(&rest.Config{Host: "https://127.0.0.1:1"}, kube.Config{Namespace: "x", Selector: "a in (b"}); !errors.Is(err, kube.ErrConfig) {
		t.Fatalf("bad selector: %v", err)
	}
	if _, err := kube.New(&rest.Config{Host: "https://127.0.0.1:1"}, kube.Config{Namespace: "x", Selector: ""}); !errors.Is(err, kube.ErrConfig) {
		t.Fatalf("empty selector: %v", err)
	}
}
