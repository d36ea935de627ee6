package bench

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// BenchmarkRun2000 is the bar in process: 2,000 clients over two
// gateways on four source addresses, 10 s of publishing; run it with
// go test -run x -bench Run2000 -benchtime 1x. It fails on any loss.
func BenchmarkRun2000(b *testing.B) {
	ns := natstest.Start(b)
	x := startNode(b, nodeConfig(ns, "gw-a"))
	y := startNode(b, nodeConfig(ns, "gw-b"))
	cfg := Config{URLs: []string{x.URL(), y.URL()}, Clients: 2000, Channels: 20, Rate: 200,
		Duration: 10 * time.Second, Size: 128, DialRate: 500,
		SourceAddrs: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}}
	for b.Loop() {
		rep, err := Run(context.Background(), cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + rep.Table())
		if rep.Lost != 0 || rep.Duplicated != 0 || rep.OutOfOrder != 0 || rep.ConnectionsHeld != cfg.Clients {
			b.Fatalf("lost %d dup %d ooo %d held %d", rep.Lost, rep.Duplicated, rep.OutOfOrder, rep.ConnectionsHeld)
		}
		b.ReportMetric(rep.DeliveredPerS, "delivered/s")
		b.ReportMetric(rep.LatencyP99MS, "p99-ms")
		b.ReportMetric(float64(rep.Lost), "lost")
	}
}
