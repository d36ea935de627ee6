package service_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
	"github.com/wsheal/wsheal/pkg/events/service"
)

func TestEnsureModeIsValidated(t *testing.T) {
	for mode, ok := range map[string]bool{"": true, events.EnsureCreate: true, events.EnsureCheck: true, "yes": false} {
		err := service.NATS{URL: "nats://x", Replicas: 1, Ensure: mode}.Validate("WSHEAL_GATEWAY")
		if (err == nil) != ok || (!ok && !strings.Contains(err.Error(), "WSHEAL_GATEWAY_NATS_ENSURE")) {
			t.Errorf("mode %q: %v", mode, err)
		}
	}
}

// TestLoggerRedacts: the root logger of every service masks registered
// secrets and URL credentials, in JSON and console format.
func TestLoggerRedacts(t *testing.T) {
	redact.Register("s3rvice-password-1")
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log, err := service.Logger(&buf, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		log.Warn().Str("url", "nats://gw-1:s3rvice-password-1@nats-1:4222").Msg("nats disconnected")
		if strings.Contains(buf.String(), "s3rvice-password-1") || !strings.Contains(buf.String(), "nats-1:4222") {
			t.Fatalf("%s: %s", format, buf.String())
		}
	}
}
