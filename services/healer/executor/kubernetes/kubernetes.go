// Package kubernetes restarts a gateway's pod through the Kubernetes API
// (client-go): the pod is found in one namespace by a label selector and
// the node it runs (the pod's name, or the value of a label), evicted
// through the Eviction API so that PodDisruptionBudgets are honoured,
// deleted instead only when the configuration allows it and the budget
// keeps refusing, and the restart is verified by the replacement pod's
// uid: a pod of the same controller that did not exist before.
//
// The healer's ServiceAccount needs exactly: get, list pods; create
// pods/eviction; delete pods (the delete only with the fallback on). See
// deploy/kubernetes/healer-rbac.yaml.
//
// Its tests live in deploy/kubernetes (a module of their own, so that
// envtest stays out of the healer's graph): they run it against a real
// kube-apiserver, kube-controller-manager and etcd.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Errors of the Kubernetes executor.
var (
	ErrConfig   = errors.New("kubernetes: config")
	ErrAPI      = errors.New("kubernetes: api")
	ErrNotFound = errors.New("kubernetes: no pod")
	// ErrBlocked: the disruption budget refused the eviction for the whole
	// of EvictFor and deleting instead is not allowed.
	ErrBlocked = errors.New("kubernetes: eviction refused by a PodDisruptionBudget")
	// ErrNoReplacement: no new pod of the same controller appeared in time.
	ErrNoReplacement = errors.New("kubernetes: no replacement pod")
)

// namespaceFile is where a pod reads its own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Config says where the gateways' pods are and how far the executor may go.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty: the in-cluster config (the
	// pod's ServiceAccount).
	Kubeconfig string
	// Namespace of the gateway pods; empty: the healer pod's own namespace.
	Namespace string
	// Selector is a label selector matching every gateway pod.
	Selector string
	// NodeLabel is the label whose value names the node a pod runs; empty:
	// the pod's name is the node (a StatefulSet's pod, or WSHEAL_GATEWAY_NODE
	// from the downward API's metadata.name).
	NodeLabel string
	// EvictFor is how long an eviction the budget refuses (429) is retried.
	EvictFor time.Duration
	// DeleteFallback deletes the pod when the budget refused it for EvictFor.
	DeleteFallback bool
	// Wait bounds the wait for the replacement pod.
	Wait time.Duration
	// Poll is the interval of retries and of the replacement check.
	Poll time.Duration
}

// Client restarts gateway pods.
type Client struct {
	cs  clientset.Interface
	cfg Config
	sel labels.Selector
}

// RESTConfig is the API server's address and credentials: in-cluster, or
// from cfg.Kubeconfig.
func RESTConfig(cfg Config) (*rest.Config, error) {
	if cfg.Kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("%w: not in a cluster and no kubeconfig: %w", ErrConfig, err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig %s: %w", ErrConfig, cfg.Kubeconfig, err)
	}
	return rc, nil
}

// New returns a client of the API server rc names.
func New(rc *rest.Config, cfg Config) (*Client, error) {
	sel, err := labels.Parse(cfg.Selector)
	if err != nil || sel.Empty() {
		return nil, fmt.Errorf("%w: label selector %q: want a non-empty selector: %v", ErrConfig, cfg.Selector, err)
	}
	if cfg.Namespace == "" {
		b, err := os.ReadFile(namespaceFile)
		if err != nil {
			return nil, fmt.Errorf("%w: no namespace set and none in %s", ErrConfig, namespaceFile)
		}
		cfg.Namespace = strings.TrimSpace(string(b))
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 90 * time.Second
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "wsheal-healer"
	cs, err := clientset.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Client{cs: cs, cfg: cfg, sel: sel}, nil
}

// Namespace is where the client looks for pods.
func (c *Client) Namespace() string { return c.cfg.Namespace }

// Result is what a restart did.
type Result struct {
	Pod     string    // the pod that ran the node
	OldUID  types.UID // its uid
	NewPod  string    // the replacement
	NewUID  types.UID // the replacement's uid
	Created time.Time // when the replacement was created
	Deleted bool      // deleted (the fallback) rather than evicted
	Already bool      // the node's pod was already newer than the attempt
}

// String says what happened, for the remediation's detail.
func (r Result) String() string {
	switch {
	case r.Already:
		return fmt.Sprintf("pod %s uid %s already replaced at %s", r.NewPod, r.NewUID, r.Created.Format(time.RFC3339))
	case r.Deleted:
		return fmt.Sprintf("pod %s uid %s deleted (eviction refused), replaced by %s uid %s", r.Pod, r.OldUID, r.NewPod, r.NewUID)
	}
	return fmt.Sprintf("pod %s uid %s evicted, replaced by %s uid %s", r.Pod, r.OldUID, r.NewPod, r.NewUID)
}

// pods lists the gateway pods.
func (c *Client) pods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := c.cs.CoreV1().Pods(c.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: c.sel.String()})
	if err != nil {
		return nil, fmt.Errorf("%w: list pods in %s (%s): %w", ErrAPI, c.cfg.Namespace, c.sel, err)
	}
	return l.Items, nil
}

// runs says whether pod runs node.
func (c *Client) runs(p *corev1.Pod, node string) bool {
	if c.cfg.NodeLabel == "" {
		return p.Name == node
	}
	return p.Labels[c.cfg.NodeLabel] == node
}

// Find returns the pod running node, preferring one that is not
// terminating, then the newest.
func (c *Client) Find(ctx context.Context, node string) (corev1.Pod, error) {
	list, err := c.pods(ctx)
	if err != nil {
		return corev1.Pod{}, err
	}
	var pick *corev1.Pod
	for i := range list {
		p := &list[i]
		if !c.runs(p, node) {
			continue
		}
		if pick == nil || better(p, pick) {
			pick = p
		}
	}
	if pick == nil {
		how := "named " + node
		if c.cfg.NodeLabel != "" {
			how = "labelled " + c.cfg.NodeLabel + "=" + node
		}
		return corev1.Pod{}, fmt.Errorf("%w %s in %s matching %s", ErrNotFound, how, c.cfg.Namespace, c.sel)
	}
	return *pick, nil
}

// better: a live pod beats a terminating one, then the newer wins.
func better(a, b *corev1.Pod) bool {
	if (a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) {
		return a.DeletionTimestamp == nil
	}
	return a.CreationTimestamp.After(b.CreationTimestamp.Time)
}

// owner is the uid of the pod's controller (its ReplicaSet or StatefulSet).
func owner(p *corev1.Pod) types.UID {
	if ref := metav1.GetControllerOf(p); ref != nil {
		return ref.UID
	}
	return ""
}
