package events

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// Modes of ensuring the contract at a service's start.
const (
	// EnsureCreate creates or updates every stream and bucket (Ensure): for
	// `wsheal dev`, tests and a setup step run with operator rights.
	EnsureCreate = "create"
	// EnsureCheck only checks that every stream and bucket exists with the
	// contract's subjects (Check): for services whose NATS user holds no
	// right to create, update or delete streams.
	EnsureCheck = "check"
)

// ErrContractMissing is wrapped by Check's errors: a stream or bucket is
// absent or does not store the subjects the contract gives it.
var ErrContractMissing = errors.New("events: contract missing")

// ValidateEnsureMode rejects a mode other than EnsureCreate and EnsureCheck.
func ValidateEnsureMode(mode string) error {
	switch mode {
	case EnsureCreate, EnsureCheck:
		return nil
	}
	return fmt.Errorf("events: ensure mode %q: want %s or %s", mode, EnsureCreate, EnsureCheck)
}

// Check verifies, with read-only JetStream API calls ($JS.API.STREAM.INFO),
// that every stream of Streams stores at least its contract subjects and
// that every bucket of Buckets exists. It changes nothing: a service run
// with least privilege calls it instead of Ensure, after a setup step
// created the contract.
func Check(ctx context.Context, js jetstream.JetStream) error {
	for _, s := range Streams {
		st, err := js.Stream(ctx, s.Name)
		if err != nil {
			return fmt.Errorf("%w: stream %s: %w", ErrContractMissing, s.Name, err)
		}
		have := st.CachedInfo().Config.Subjects
		for _, subj := range s.Subjects {
			if !slices.Contains(have, subj) {
				return fmt.Errorf("%w: stream %s does not store %s (has %v)", ErrContractMissing, s.Name, subj, have)
			}
		}
	}
	for _, b := range Buckets {
		if _, err := js.KeyValue(ctx, b.Bucket); err != nil {
			return fmt.Errorf("%w: bucket %s: %w", ErrContractMissing, b.Bucket, err)
		}
	}
	return nil
}

// EnsureMode runs Ensure (EnsureCreate) or Check (EnsureCheck).
func EnsureMode(ctx context.Context, js jetstream.JetStream, mode string, opt EnsureOptions) error {
	switch mode {
	case EnsureCheck:
		return Check(ctx, js)
	case EnsureCreate, "":
		return Ensure(ctx, js, opt)
	}
	return ValidateEnsureMode(mode)
}
