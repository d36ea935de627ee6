package kubernetes

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RestartNode replaces the pod running node: evict it (retrying while a
// PodDisruptionBudget refuses, for EvictFor), delete it when the budget
// still refuses and DeleteFallback allows it, then wait for the
// replacement, a pod of the same controller (and node) with a uid that
// did not exist before. A pod created after since is taken as the restart
// already done for this attempt (by a replica that crashed before
// recording it), and is not evicted again.
func (c *Client) RestartNode(ctx context.Context, node string, since time.Time) (Result, error) {
	return c.restart(ctx, node, since, nil)
}

// RestartHung is RestartNode for a node that answers nothing (hung or
// down): the pod is evicted with a termination grace of grace instead of
// its own, since a process that does not answer will not drain either.
func (c *Client) RestartHung(ctx context.Context, node string, since time.Time, grace time.Duration) (Result, error) {
	s := int64(max(grace, time.Second) / time.Second)
	return c.restart(ctx, node, since, &s)
}

func (c *Client) restart(ctx context.Context, node string, since time.Time, grace *int64) (Result, error) {
	pod, err := c.Find(ctx, node)
	if err != nil {
		return Result{}, err
	}
	// Creation times have whole seconds: a pod created in since's second
	// does not count as newer (an old pod must not pass for the restart; at
	// worst a replacement made within that second is evicted once more).
	if pod.DeletionTimestamp == nil && !since.IsZero() && pod.CreationTimestamp.After(since) {
		return Result{Pod: pod.Name, NewPod: pod.Name, NewUID: pod.UID, Created: pod.CreationTimestamp.Time, Already: true}, nil
	}
	before, err := c.pods(ctx)
	if err != nil {
		return Result{}, err
	}
	seen := make(map[types.UID]bool, len(before))
	for _, p := range before {
		seen[p.UID] = true
	}
	res := Result{Pod: pod.Name, OldUID: pod.UID}
	if pod.DeletionTimestamp == nil {
		if res.Deleted, err = c.remove(ctx, &pod, grace); err != nil {
			return res, err
		}
	}
	next, err := c.replacement(ctx, &pod, node, seen)
	if err != nil {
		return res, err
	}
	res.NewPod, res.NewUID, res.Created = next.Name, next.UID, next.CreationTimestamp.Time
	return res, nil
}

// remove evicts pod, or deletes it once the budget refused for EvictFor
// and the fallback is allowed; deleted says which.
func (c *Client) remove(ctx context.Context, pod *corev1.Pod, grace *int64) (deleted bool, err error) {
	uid := pod.UID
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, GracePeriodSeconds: grace}
	ev := &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		DeleteOptions: &opts,
	}
	until := time.Now().Add(c.cfg.EvictFor)
	for {
		err := c.cs.PolicyV1().Evictions(pod.Namespace).Evict(ctx, ev)
		switch {
		case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// evicted, or already gone (a conflict: the uid precondition
			// failed, so this pod no longer exists under that name)
			return false, nil
		case !apierrors.IsTooManyRequests(err):
			return false, fmt.Errorf("%w: evict %s/%s: %w", ErrAPI, pod.Namespace, pod.Name, err)
		}
		if !time.Now().Before(until) {
			if !c.cfg.DeleteFallback {
				return false, fmt.Errorf("%w: %s/%s for %s: %w", ErrBlocked, pod.Namespace, pod.Name, c.cfg.EvictFor, err)
			}
			return true, c.delete(ctx, pod, opts)
		}
		if err := pause(ctx, c.cfg.Poll); err != nil {
			return false, err
		}
	}
}

func (c *Client) delete(ctx context.Context, pod *corev1.Pod, opts metav1.DeleteOptions) error {
	err := c.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("%w: delete %s/%s: %w", ErrAPI, pod.Namespace, pod.Name, err)
	}
	return nil
}

// replacement waits for a live pod of old's controller running node (when
// the node's pod keeps its name or label) whose uid is not in seen.
func (c *Client) replacement(ctx context.Context, old *corev1.Pod, node string, seen map[types.UID]bool) (corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Wait)
	defer cancel()
	ctrl := owner(old)
	// A Deployment's replacement has a new name: then any new pod of the
	// same ReplicaSet is the node's successor.
	stable := c.cfg.NodeLabel != "" || ctrl == "" || isStatefulSet(old)
	for {
		list, err := c.pods(ctx)
		if err != nil && ctx.Err() == nil {
			return corev1.Pod{}, err
		}
		for i := range list {
			p := &list[i]
			if seen[p.UID] || p.DeletionTimestamp != nil || owner(p) != ctrl || stable && !c.runs(p, node) {
				continue
			}
			return *p, nil
		}
		if err := pause(ctx, c.cfg.Poll); err != nil {
			return corev1.Pod{}, fmt.Errorf("%w for %s/%s (uid %s) within %s", ErrNoReplacement, old.Namespace, old.Name, old.UID, c.cfg.Wait)
		}
	}
}

func isStatefulSet(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "StatefulSet"
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
