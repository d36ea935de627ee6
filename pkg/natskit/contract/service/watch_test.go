package service_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// seen records what a KVWatch handed over, as "put k=v", "del k",
// "purge k" and "synced".
type seen struct {
	mu  sync.Mutex
	log []string
}

func (s *seen) apply(e jetstream.KeyValueEntry) {
	line := fmt.Sprintf("put %s=%s", e.Key(), e.Value())
	switch e.Operation() {
	case jetstream.KeyValueDelete:
		line = "del " + e.Key()
	case jetstream.KeyValuePurge:
		line = "purge " + e.Key()
	}
	s.mu.Lock()
	s.log = append(s.log, line)
	s.mu.Unlock()
}

func (s *seen) synced() {
	s.mu.Lock()
	s.log = append(s.log, "synced")
	s.mu.Unlock()
}

func (s *seen) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

func (s *seen) watch(keys ...string) service.KVWatch {
	return service.KVWatch{Keys: keys, Apply: s.apply, Synced: s.synced, Retry: 20 * time.Millisecond}
}

func count(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}

// watchBucket creates a bucket on a fresh server.
func watchBucket(t *testing.T) (*natstest.Server, jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "watchtest"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, kv
}

// runWatch runs WatchKV until the test ends and checks that it returns
// nil once its context is cancelled.
func runWatch(t *testing.T, kv jetstream.KeyValue, w service.KVWatch) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.WatchKV(ctx, kv, w, zerolog.New(zerolog.NewTestWriter(t))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
}

func put(t *testing.T, kv jetstream.KeyValue, key, value string) {
	t.Helper()
	if _, err := kv.Put(context.Background(), key, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

func TestWatchKVHandsOverValuesThenChanges(t *testing.T) {
	_, _, kv := watchBucket(t)
	ctx := context.Background()
	put(t, kv, "q.a", "1")
	put(t, kv, "q.b", "2")
	put(t, kv, "other", "x")
	if err := kv.Delete(ctx, "q.b"); err != nil {
		t.Fatal(err)
	}
	var s seen
	runWatch(t, kv, s.watch("q.*"))
	natstest.Eventually(t, 5*time.Second, func() bool { return slices.Contains(s.lines(), "synced") }, "initial values")
	put(t, kv, "q.c", "3")
	put(t, kv, "other", "y")
	if err := kv.Delete(ctx, "q.a"); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "q.c"); err != nil {
		t.Fatal(err)
	}
	want := []string{"put q.a=1", "del q.b", "synced", "put q.c=3", "del q.a", "purge q.c"}
	natstest.Eventually(t, 5*time.Second, func() bool { return len(s.lines()) >= len(want) }, "the changes")
	if got := s.lines(); !slices.Equal(got, want) {
		t.Fatalf("handed over %q, want %q", got, want)
	}
}

func TestWatchKVEveryKeyAndAnEmptyBucket(t *testing.T) {
	_, _, kv := watchBucket(t)
	var s seen
	runWatch(t, kv, s.watch())
	natstest.Eventually(t, 5*time.Second, func() bool { return slices.Equal(s.lines(), []string{"synced"}) },
		"an empty bucket is synced at once")
	put(t, kv, "a", "1")
	put(t, kv, "b.c", "2")
	want := []string{"synced", "put a=1", "put b.c=2"}
	natstest.Eventually(t, 5*time.Second, func() bool { return len(s.lines()) >= len(want) }, "every key")
	if got := s.lines(); !slices.Equal(got, want) {
		t.Fatalf("handed over %q, want %q", got, want)
	}
}

// TestWatchKVWatchesAgain: a watch that cannot start (the bucket is
// gone) is tried again until the bucket is back, then follows it.
func TestWatchKVWatchesAgain(t *testing.T) {
	_, js, kv := watchBucket(t)
	ctx := context.Background()
	if err := js.DeleteKeyValue(ctx, "watchtest"); err != nil {
		t.Fatal(err)
	}
	var s seen
	runWatch(t, kv, s.watch())
	again, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "watchtest"})
	if err != nil {
		t.Fatal(err)
	}
	put(t, again, "a", "1")
	natstest.Eventually(t, 10*time.Second, func() bool {
		got := s.lines()
		return slices.Contains(got, "put a=1") && slices.Contains(got, "synced")
	}, "the value of the bucket once it is back")
	if got := s.lines(); count(got, "synced") != 1 {
		t.Fatalf("handed over %q: the failed attempts must not report a replay", got)
	}
}

// TestWatchBucketBindsOnceTheBucketExists: a bucket created after the
// watch started is bound and followed.
func TestWatchBucketBindsOnceTheBucketExists(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	var s seen
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- service.WatchBucket(ctx, js, "later", s.watch(), zerolog.New(zerolog.NewTestWriter(t)))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "later"})
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, "a", "1")
	natstest.Eventually(t, 10*time.Second, func() bool { return slices.Contains(s.lines(), "put a=1") }, "the new bucket's value")
}

// TestWatchKVAcrossANATSRestart: changes made after the server restarted
// reach the watch.
func TestWatchKVAcrossANATSRestart(t *testing.T) {
	srv, _, kv := watchBucket(t)
	var s seen
	runWatch(t, kv, s.watch())
	natstest.Eventually(t, 5*time.Second, func() bool { return slices.Contains(s.lines(), "synced") }, "initial values")
	srv.Restart()
	natstest.Eventually(t, 20*time.Second, func() bool {
		_, _ = kv.Put(context.Background(), "after", []byte("restart"))
		return slices.Contains(s.lines(), "put after=restart")
	}, "a change after the restart")
}

func TestWatchKVNeedsABucketAndApply(t *testing.T) {
	_, _, kv := watchBucket(t)
	for name, w := range map[string]struct {
		kv jetstream.KeyValue
		w  service.KVWatch
	}{
		"no bucket": {nil, service.KVWatch{Apply: func(jetstream.KeyValueEntry) {}}},
		"no apply":  {kv, service.KVWatch{}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := service.WatchKV(context.Background(), w.kv, w.w, zerolog.Nop()); !errors.Is(err, service.ErrWatch) {
				t.Fatalf("err %v, want ErrWatch", err)
			}
		})
	}
}
