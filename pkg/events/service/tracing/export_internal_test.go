package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wsheal/wsheal/pkg/events"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An unreachable collector costs a JSON warning line, never the service.
func TestUnreachableCollectorLogsJSON(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
	var out lockedBuffer
	shutdown, err := setup(context.Background(), "monitor", &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		events.SetTracer(nil)
		otel.SetTracerProvider(noop.NewTracerProvider())
	})
	_, end := events.StartSpan(context.Background(), "anomaly open node_down")
	end(nil)
	_ = shutdown(context.Background()) // exports what is left, and fails
	line := strings.TrimSpace(out.String())
	if line == "" {
		t.Fatal("no line about the failed export")
	}
	t.Logf("%s", line)
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.Split(line, "\n")[0]), &rec); err != nil {
		t.Fatalf("not a JSON line: %q: %v", line, err)
	}
	if rec["component"] != "tracing" || rec["level"] != "warn" || rec["service"] != "monitor" {
		t.Errorf("line %v", rec)
	}
}
