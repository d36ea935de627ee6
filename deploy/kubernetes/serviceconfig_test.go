package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/notifier"
)

// rendered is `kubectl kustomize` of the base, decoded.
func rendered(t *testing.T) []runtime.Object {
	t.Helper()
	out, err := kubectl(t, "kustomize", base(t))
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var objs []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

var ref = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// containerEnv is the environment the kubelet gives the container of a pod
// named pod in namespace wsheal: envFrom, then env with its $(VAR)
// references expanded from the variables before it.
func containerEnv(t *testing.T, c corev1.Container, pod string, secrets map[string]*corev1.Secret, configs map[string]*corev1.ConfigMap) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil || secrets[from.SecretRef.Name] == nil {
			t.Fatalf("%s: envFrom %+v names no rendered Secret", c.Name, from)
		}
		for k, v := range secrets[from.SecretRef.Name].Data {
			env[k] = string(v)
		}
	}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
			v = ref.ReplaceAllStringFunc(v, func(m string) string {
				if x, ok := env[m[2:len(m)-1]]; ok {
					return x
				}
				return m
			})
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			v = pod
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			v = "wsheal"
		case e.ValueFrom.ConfigMapKeyRef != nil:
			cm := configs[e.ValueFrom.ConfigMapKeyRef.Name]
			if cm == nil {
				t.Fatalf("%s: %s names no rendered ConfigMap", c.Name, e.Name)
			}
			v = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
		default:
			t.Fatalf("%s: %s: a source the test does not know", c.Name, e.Name)
		}
		env[e.Name] = v
	}
	return env
}

// Every wsheal service of the base starts with the configuration the
// manifests give it: the environment a pod gets (secrets, settings, the
// downward API, $(VAR) expansion) passes the service's own validation,
// and the healer restarts through Kubernetes.
func TestManifestsConfigureEveryService(t *testing.T) {
	needCluster(t)
	objs := rendered(t)
	secrets, configs := map[string]*corev1.Secret{}, map[string]*corev1.ConfigMap{}
	type pod struct {
		name string
		spec corev1.PodSpec
	}
	var pods []pod
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Secret:
			secrets[x.Name] = x
		case *corev1.ConfigMap:
			configs[x.Name] = x
		case *appsv1.StatefulSet:
			pods = append(pods, pod{x.Name + "-0", x.Spec.Template.Spec})
		case *appsv1.Deployment:
			pods = append(pods, pod{x.Name + "-7d4b9c8f6d-x2v9q", x.Spec.Template.Spec})
		}
	}
	// The gateway's URLs (gw-0's, as the kubelet expands them), which the
	// monitor and the healer must believe.
	var urls []string
	allows := func(who string, hosts events.Hosts) error {
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || !hosts.Allows(p.Hostname()) {
				return fmt.Errorf("%s's FLEET_HOSTS %v refuse the gateway URL %s", who, hosts, u)
			}
		}
		return nil
	}
	validate := map[string]func() error{
		"gateway": func() error {
			c, err := gateway.ConfigFromEnv()
			urls = append(urls, c.PublicURL, c.InternalURL)
			return err
		},
		"monitor": func() error {
			c, err := monitor.ConfigFromEnv()
			return errors.Join(err, allows("the monitor", c.FleetHosts))
		},
		"notifier": func() error { _, err := notifier.ConfigFromEnv(); return err },
		"healer": func() error {
			c, err := healer.ConfigFromEnv()
			if err == nil && (c.Restart != "kubernetes" || c.Kube.Selector != gatewaySelector || c.Kube.Namespace != "wsheal") {
				err = errors.New("the healer does not restart through Kubernetes in the gateways' namespace: " + c.Restart)
			}
			return errors.Join(err, allows("the healer", c.FleetHosts))
		},
	}
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].name == "gw-0" && pods[j].name != "gw-0" })
	seen := map[string]bool{}
	for _, p := range pods {
		for _, c := range p.spec.Containers {
			if len(c.Args) != 2 || c.Args[0] != "serve" {
				continue
			}
			check, ok := validate[c.Args[1]]
			if !ok {
				t.Fatalf("%s serves %s, which the test does not know", p.name, c.Args[1])
			}
			seen[c.Args[1]] = true
			t.Run(c.Args[1], func(t *testing.T) {
				for _, kv := range os.Environ() {
					if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "WSHEAL_") {
						t.Setenv(k, "")
						_ = os.Unsetenv(k)
					}
				}
				for k, v := range containerEnv(t, c, p.name, secrets, configs) {
					t.Setenv(k, v)
				}
				if err := check(); err != nil {
					t.Fatalf("%s: %v", p.name, err)
				}
			})
		}
	}
	for name := range validate {
		if !seen[name] {
			t.Errorf("no pod of the base serves %s", name)
		}
	}
}

// The NetworkPolicies let in what the base needs: every pod that talks to
// NATS (a NATS_URL in its environment) is admitted to NATS's client port,
// the NATS pods to each other's routes, and no pod of the namespace is
// left without a policy that selects it (the default denies).
func TestManifestsNetworkPoliciesAdmitTheirClients(t *testing.T) {
	needCluster(t)
	objs := rendered(t)
	var policies []*networkingv1.NetworkPolicy
	type tmpl struct {
		name   string
		labels map[string]string
		spec   corev1.PodSpec
	}
	var pods []tmpl
	for _, o := range objs {
		switch x := o.(type) {
		case *networkingv1.NetworkPolicy:
			policies = append(policies, x)
		case *appsv1.StatefulSet:
			pods = append(pods, tmpl{x.Name, x.Spec.Template.Labels, x.Spec.Template.Spec})
		case *appsv1.Deployment:
			pods = append(pods, tmpl{x.Name, x.Spec.Template.Labels, x.Spec.Template.Spec})
		case *batchv1.Job:
			pods = append(pods, tmpl{x.Name, x.Spec.Template.Labels, x.Spec.Template.Spec})
		}
	}
	// admitted: some policy selecting a NATS pod lets from in on port.
	natsLabels := map[string]string{}
	for _, p := range pods {
		if p.name == "nats" {
			natsLabels = p.labels
		}
	}
	admitted := func(from map[string]string, port int32) bool {
		for _, np := range policies {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil || !sel.Matches(labels.Set(natsLabels)) {
				continue
			}
			for _, rule := range np.Spec.Ingress {
				portOK := len(rule.Ports) == 0
				for _, p := range rule.Ports {
					portOK = portOK || p.Port != nil && p.Port.IntVal == port
				}
				for _, peer := range rule.From {
					if peer.PodSelector == nil || peer.NamespaceSelector != nil {
						continue
					}
					s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
					if err == nil && portOK && s.Matches(labels.Set(from)) {
						return true
					}
				}
			}
		}
		return false
	}
	for _, p := range pods {
		for _, c := range p.spec.Containers {
			talks := false
			for _, e := range c.Env {
				talks = talks || strings.HasSuffix(e.Name, "NATS_URL")
			}
			if talks && !admitted(p.labels, 4222) {
				t.Errorf("%s talks to NATS, but no NetworkPolicy admits its pods (labels %v) to port 4222", p.name, p.labels)
			}
		}
	}
	if !admitted(natsLabels, 6222) {
		t.Errorf("the NATS pods are not admitted to each other's route port")
	}
	for _, p := range pods {
		selected := false
		for _, np := range policies {
			if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err == nil && !sel.Empty() && sel.Matches(labels.Set(p.labels)) {
				selected = true
			}
		}
		if !selected && p.name != "setup-streams" {
			t.Errorf("no NetworkPolicy but the default denial selects %s's pods: nothing reaches them", p.name)
		}
	}
}
