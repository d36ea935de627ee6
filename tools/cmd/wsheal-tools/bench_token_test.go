package main

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/gateway/auth"
)

// TestBenchTokenIsAcceptedAndExpires: the demo clients' minted token is
// what a gateway with AUTH=jwt accepts: every channel, and an exp.
func TestBenchTokenIsAcceptedAndExpires(t *testing.T) {
	const secret = "a-secret-of-at-least-16-bytes"
	tok, err := benchToken(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.NewVerifier(secret).Parse(tok)
	if err != nil {
		t.Fatalf("the gateway refuses the bench token: %v", err)
	}
	if !c.CanSubscribe("room") || !c.CanPublish("room") || c.Expires().IsZero() || time.Until(c.Expires()) > time.Hour {
		t.Fatalf("claims %+v", c)
	}
	if _, err := auth.NewVerifier("another-secret-16-bytes").Parse(tok); err == nil {
		t.Fatal("a token signed with another secret was accepted")
	}
}
