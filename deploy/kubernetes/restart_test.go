package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
	"github.com/wsheal/wsheal/services/healer/executor/gateway"
	kube "github.com/wsheal/wsheal/services/healer/executor/kubernetes"
	"github.com/wsheal/wsheal/services/healer/fleet"
)

// statefulGateways creates the gateway StatefulSet of gateway.yaml's shape
// (pods gw-0..gw-n-1: the pod's name is the node) and its budget.
func statefulGateways(t *testing.T, ns string, n int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app.kubernetes.io/name": "wsheal-gateway"}
	grace := int64(45)
	ss := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &n, ServiceName: "gw-headless", PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				// Bound to a node, so that a deletion is graceful (the
				// test's kubelet ends it), with gateway.yaml's grace.
				Spec: corev1.PodSpec{NodeName: "node-a", TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{Name: "gateway", Image: "wsheal", Args: []string{"serve", "gateway"}}}},
			},
		},
	}
	if _, err := cluster.cs.AppsV1().StatefulSets(ns).Create(ctx, ss, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "gateway"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if _, err := cluster.cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The healer's restart on Kubernetes end to end, short of a kubelet: the
// node gw-1 (a real gateway on a real NATS server, named as its pod) is
// drained over NATS, its pod evicted under the budget and recreated by the
// StatefulSet under the same name with a new uid; once the new process
// beats, the healer's fleet view tells it from the old one (the check the
// healer's verification makes). A node that does not answer (gw-0, hung)
// is evicted without a drain.
func TestRestarterDrainsEvictsAndTheNewProcessBeats(t *testing.T) {
	needCluster(t)
	ns := namespace(t, "restart")
	rc := healerConfig(t, ns)
	statefulGateways(t, ns, 3)
	graces := kubelet(t, ns, func() bool { return true })
	natstest.Eventually(t, time.Minute, func() bool { return allowed(t, ns) == 1 }, "the budget never allowed one disruption")

	srv := natstest.Start(t)
	nc, js := srv.JetStream()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	view := fleet.New(fleet.Config{Forget: time.Minute}, zerolog.Nop())
	go func() { _ = view.Run(ctx, nc, js) }()

	_, stopOld := gatewaytest.Run(t, gatewaytest.Config(srv.URL(), "gw-1"))
	t.Cleanup(stopOld)
	var before string
	natstest.Eventually(t, 10*time.Second, func() bool {
		n, ok := view.Get("gw-1", time.Now())
		before = n.Identity()
		return ok && n.Healthy && before != ""
	}, "gw-1 never beat")

	pods, err := kube.New(rc, kube.Config{Namespace: ns, Selector: gatewaySelector, EvictFor: 30 * time.Second,
		Wait: 30 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := &kube.Restarter{Pods: pods, Drain: gateway.New(nc, 2*time.Second), Over: 300 * time.Millisecond, HungGrace: 5 * time.Second}
	old, err := cluster.cs.CoreV1().Pods(ns).Get(ctx, "gw-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	others := livePods(t, ns)
	delete(others, old.UID)

	detail, err := r.Restart(ctx, "node_hung-gw-1-1.restart.1", "gw-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: %s", detail)
	if !strings.HasPrefix(detail, "drained 0 connections over 300 ms; pod gw-1 uid "+string(old.UID)+" evicted, replaced by gw-1 uid ") {
		t.Fatalf("detail %q: want a drain, then gw-1 evicted and replaced", detail)
	}
	if g, _ := graces.Load(old.UID); g != int64(45) {
		t.Fatalf("gw-1, drained, ended with a grace of %v s, want its own 45", g)
	}
	var st events.GatewayStatus
	if err := events.Request(ctx, nc, events.GatewayControlSubject("gw-1", events.VerbStatus), &events.GatewayStatusRequest{}, &st); err != nil || !st.Draining {
		t.Fatalf("gw-1 was not drained before its eviction: %+v, %v", st, err)
	}
	now, err := cluster.cs.CoreV1().Pods(ns).Get(ctx, "gw-1", metav1.GetOptions{})
	if err != nil || now.UID == old.UID || !strings.HasSuffix(detail, string(now.UID)) {
		t.Fatalf("gw-1 after the restart: %v, %v; detail %q", now.UID, err, detail)
	}
	for uid, p := range others {
		if _, ok := livePods(t, ns)[uid]; !ok {
			t.Fatalf("%s was removed too", p.Name)
		}
	}

	// The kubelet would now stop the old container and start the new pod's:
	// the node's heartbeats come from another process, which the healer's
	// verification requires.
	stopOld()
	gatewaytest.Start(t, gatewaytest.Config(srv.URL(), "gw-1"))
	natstest.Eventually(t, 10*time.Second, func() bool {
		n, ok := view.Get("gw-1", time.Now())
		return ok && n.Healthy && n.Identity() != "" && !n.Runs(before)
	}, "gw-1's heartbeats never came from a new process")

	// gw-0 runs no gateway here (a hung node answers nothing): no drain,
	// the eviction goes on once the budget allows it again.
	natstest.Eventually(t, time.Minute, func() bool { return allowed(t, ns) == 1 }, "the budget never recovered")
	hung, err := cluster.cs.CoreV1().Pods(ns).Get(ctx, "gw-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	detail, err = r.Restart(ctx, "node_hung-gw-0-1.restart.1", "gw-0", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: %s", detail)
	if !strings.HasPrefix(detail, "no drain (") || !strings.Contains(detail, "pod gw-0 uid "+string(hung.UID)+" evicted") {
		t.Fatalf("detail %q: want no drain, then gw-0 evicted", detail)
	}
	if g, _ := graces.Load(hung.UID); g != int64(5) {
		t.Fatalf("gw-0, silent, ended with a grace of %v s, want HungGrace 5", g)
	}
}
