package kubernetes

import (
	"context"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The healer's Role (healer-rbac.yaml) allows exactly what its executor
// does in its namespace, asked of the API server's authorizer with a
// SubjectAccessReview as the healer's ServiceAccount; everything else,
// here or in another namespace, is denied.
func TestHealerRBACAllowsExactlyTheExecutor(t *testing.T) {
	needCluster(t)
	ns := namespace(t, "rbac")
	other := namespace(t, "other")
	if out, err := kubectl(t, "apply", "-n", ns, "-f", "healer-rbac.yaml"); err != nil {
		t.Fatalf("apply healer-rbac.yaml: %v\n%s", err, out)
	}
	type ask struct {
		ns, verb, group, resource, sub string
	}
	allowed := []ask{
		{ns, "get", "", "pods", ""},
		{ns, "list", "", "pods", ""},
		{ns, "delete", "", "pods", ""},
		{ns, "create", "", "pods", "eviction"},
	}
	denied := []ask{
		{ns, "watch", "", "pods", ""},
		{ns, "create", "", "pods", ""},
		{ns, "update", "", "pods", ""},
		{ns, "patch", "", "pods", ""},
		{ns, "deletecollection", "", "pods", ""},
		{ns, "update", "", "pods", "status"},
		{ns, "create", "", "pods", "exec"},
		{ns, "get", "", "pods", "log"},
		{ns, "get", "", "secrets", ""},
		{ns, "list", "", "configmaps", ""},
		{ns, "update", "apps", "statefulsets", ""},
		{ns, "patch", "apps", "deployments", "scale"},
		{ns, "delete", "apps", "deployments", ""},
		{ns, "update", "policy", "poddisruptionbudgets", ""},
		{ns, "create", "rbac.authorization.k8s.io", "rolebindings", ""},
		{other, "list", "", "pods", ""},
		{other, "delete", "", "pods", ""},
		{other, "create", "", "pods", "eviction"},
		{"", "list", "", "pods", ""},
		{"", "get", "", "nodes", ""},
	}
	user := "system:serviceaccount:" + ns + ":wsheal-healer"
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	check := func(a ask) bool {
		t.Helper()
		sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: a.ns, Verb: a.verb, Group: a.group,
				Resource: a.resource, Subresource: a.sub},
		}}
		r, err := cluster.cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	for _, a := range allowed {
		if !check(a) {
			t.Errorf("denied, but the executor needs it: %+v", a)
		}
	}
	for _, a := range denied {
		if check(a) {
			t.Errorf("allowed, but outside the Role: %+v", a)
		}
	}
}
