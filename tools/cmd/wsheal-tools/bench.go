package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/tools/internal/bench"
	"github.com/wsheal/wsheal/tools/internal/suite"
)

func benchCmd() *cobra.Command {
	var (
		cfg     bench.Config
		sources string
		asJSON  bool
		sw      suiteFlags
		// jwtSecret mints the token: compose's demo clients use it.
		jwtSecret string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Open N WebSocket clients, publish at a rate, report delivery, latency, loss and reconnects",
		Long: `Open --clients subscriber connections spread over --channels, publish at
--rate for --duration through the gateways, and report connections held,
deliveries per second, publish-to-deliver latency (p50, p99, p99.9), messages
lost, duplicated and out of order, and reconnects. A progress line prints every
second; the table (or --json) at the end. Works against wsheal dev, the compose
stack or any gateway.`,
		Example: `  wsheal bench                                       # against wsheal dev's three gateways
  wsheal bench --suite                               # the side-by-side suite (make bench)
  wsheal bench --clients 2000 --rate 200 --duration 30s
  wsheal bench --discovery http://127.0.0.1:8081/v1/connect --sources 127.0.0.1-8
  wsheal bench --url ws://gw.example.com/ws --token "$JWT" --json > run.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sw.on {
				return runSuite(cmd, sw)
			}
			var err error
			if cfg.SourceAddrs, err = parseSources(sources); err != nil {
				return err
			}
			if cfg.Token == "" && jwtSecret != "" {
				if cfg.Token, err = benchToken(jwtSecret, cfg.Duration+cfg.Drain+time.Hour); err != nil {
					return err
				}
			}
			progress := cmd.ErrOrStderr()
			rep, err := bench.Run(cmd.Context(), cfg, progress)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			fmt.Fprint(cmd.OutOrStdout(), rep.Table())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.URLs, "url", []string{"ws://127.0.0.1:8081/ws", "ws://127.0.0.1:8082/ws", "ws://127.0.0.1:8083/ws"}, "gateway WebSocket URLs")
	f.StringVar(&cfg.Discovery, "discovery", "", "a gateway's /v1/connect URL, asked before every connect")
	f.StringVar(&cfg.Token, "token", "", "JWT for gateways with auth on")
	f.StringVar(&jwtSecret, "jwt-secret", os.Getenv("WSHEAL_BENCH_JWT_SECRET"), "mint the JWT (every channel, expiring after the run) with this HS256 secret instead of --token (env WSHEAL_BENCH_JWT_SECRET)")
	f.IntVar(&cfg.Clients, "clients", bench.DefaultClients, "subscriber connections")
	f.IntVar(&cfg.Channels, "channels", bench.DefaultChannels, "channels the subscribers spread over")
	f.Float64Var(&cfg.Rate, "rate", bench.DefaultRate, "publishes per second over all channels")
	f.DurationVar(&cfg.Duration, "duration", bench.DefaultDuration, "how long to publish")
	f.IntVar(&cfg.Size, "size", bench.DefaultSize, "payload bytes")
	f.Float64Var(&cfg.DialRate, "dial-rate", bench.DefaultDialRate, "connects per second while ramping up")
	f.DurationVar(&cfg.Drain, "drain", bench.DefaultDrain, "how long to wait for late deliveries at the end")
	f.StringVar(&sources, "sources", "", "source addresses to dial from: a list (127.0.0.1,127.0.0.2) or a range (127.0.0.1-8)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&sw.on, "suite", false, "run the side-by-side suite: wsheal against raw gws, NATS's WebSocket listener, Centrifugo and the fan-out floor (what make bench runs)")
	f.BoolVar(&sw.quick, "quick", false, "with --suite: scaled-down figures")
	f.IntVar(&sw.rounds, "rounds", 3, "with --suite: rounds per figure (medians are reported)")
	f.StringVar(&sw.out, "out", "results", "with --suite: folder for the Markdown and JSON tables (\"\" to not save)")
	f.StringVar(&sw.profiles, "profiles", "", "with --suite: folder for pprof profiles of the gateway under fan-out")
	f.StringSliceVar(&sw.only, "only", nil, "with --suite: run only these parts: "+strings.Join(suite.Parts, ", "))
	f.BoolVar(&sw.channelsOnly, "channels-only", false, "with --suite: only the channel-scale figures (the same as --only channels)")
	f.StringVar(&sw.centrifugo, "centrifugo", "", "with --suite: the Centrifugo binary (default: make centrifugo's, left out when missing)")
	return cmd
}

// suiteFlags are the flags of `wsheal bench --suite`.
type suiteFlags struct {
	on, quick, channelsOnly bool
	rounds                  int
	out, profiles           string
	centrifugo              string
	only                    []string
}

// parseSources reads "a,b,c" or "127.0.0.1-8" (last octet range).
func parseSources(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if base, hi, ok := strings.Cut(s, "-"); ok && !strings.Contains(s, ",") {
		ip := net.ParseIP(base).To4()
		n, err := strconv.Atoi(hi)
		if ip == nil || err != nil || n < int(ip[3]) || n > 254 {
			return nil, fmt.Errorf("--sources %q: want a.b.c.d-N with N >= d", s)
		}
		var out []string
		for o := int(ip[3]); o <= n; o++ {
			out = append(out, fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], ip[2], o))
		}
		return out, nil
	}
	out := strings.Split(s, ",")
	for _, a := range out {
		if net.ParseIP(a) == nil {
			return nil, fmt.Errorf("--sources: %q is not an IP address", a)
		}
	}
	return out, nil
}

// benchToken mints a token for every channel that expires after ttl.
func benchToken(secret string, ttl time.Duration) (string, error) {
	now := time.Now()
	return auth.Sign(secret, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "wsheal-bench", IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
		Subs: []string{"*"}, Pubs: []string{"*"},
	})
}
