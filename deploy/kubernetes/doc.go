// Package kubernetes holds wsheal's Kubernetes manifests (a kustomize base
// beside this file) and their tests, run against a real kube-apiserver,
// kube-controller-manager and etcd built from their Go modules
// (build-tools.sh, `make kube-tools`): every manifest passes
// `kubectl apply --dry-run=server`, the healer's Kubernetes executor
// evicts the right gateway pod under a PodDisruptionBudget and verifies its
// replacement, and the healer's Role allows exactly what the executor does.
//
// A module of its own, so that client-go and envtest stay out of every
// other module's graph but the healer's.
package kubernetes
