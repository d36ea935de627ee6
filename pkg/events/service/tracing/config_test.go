package tracing_test

import (
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events/service/tracing"
)

func TestConfigEnabledOnlyWithAnEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"} {
				t.Setenv(k, tc.env[k])
			}
			c, err := tracing.ConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			if c.Enabled() != tc.want {
				t.Errorf("Enabled %v, want %v (%+v)", c.Enabled(), tc.want, c)
			}
		})
	}
}

func TestConfigBadValueNamesTheVariable(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "maybe")
	_, err := tracing.ConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), "OTEL_SDK_DISABLED") {
		t.Fatalf("err %v, want one naming OTEL_SDK_DISABLED", err)
	}
}
