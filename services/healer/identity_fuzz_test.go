package healer

import (
	"strings"
	"testing"
)

func FuzzIdentity(f *testing.F) {
	f.Add(`{"acc":"OPS","user":"alice"}`, true)
	f.Add(`{"acc":"$G","user":"forged-admin"}`, false)
	f.Add(`{`, true)
	f.Fuzz(func(t *testing.T, header string, trust bool) {
		id := identity(header, trust, "operator")
		if !strings.HasPrefix(id, "nats:") || len(id) > 5+128+1+128 {
			t.Fatalf("identity %q", id)
		}
		if !trust && id != "nats:operator" {
			t.Fatalf("an untrusted header decided the identity: %q", id)
		}
	})
}
