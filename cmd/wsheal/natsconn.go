package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// natsFlags follow the nats CLI's conventions: --server/-s, --creds,
// --user, --password, --context, and the NATS_URL, NATS_CREDS, NATS_USER,
// NATS_PASSWORD and NATS_CONTEXT environment variables.
type natsFlags struct {
	server, creds, user, password, context string
	tlsCA, tlsCert, tlsKey                 string
	timeout                                time.Duration
}

var natsOpts natsFlags

func addNATSFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&natsOpts.server, "server", "s", os.Getenv("NATS_URL"), "NATS server URLs (env NATS_URL; default nats://127.0.0.1:4222)")
	f.StringVar(&natsOpts.creds, "creds", os.Getenv("NATS_CREDS"), "NATS user credentials file (env NATS_CREDS)")
	f.StringVar(&natsOpts.user, "user", os.Getenv("NATS_USER"), "NATS user (env NATS_USER)")
	f.StringVar(&natsOpts.password, "password", os.Getenv("NATS_PASSWORD"), "NATS password (env NATS_PASSWORD)")
	f.StringVar(&natsOpts.context, "context", os.Getenv("NATS_CONTEXT"), "a nats CLI context name (env NATS_CONTEXT)")
	f.StringVar(&natsOpts.tlsCA, "tlsca", os.Getenv("NATS_CA"), "CA to verify the NATS server with (env NATS_CA)")
	f.StringVar(&natsOpts.tlsCert, "tlscert", os.Getenv("NATS_CERT"), "client certificate for NATS mutual TLS (env NATS_CERT)")
	f.StringVar(&natsOpts.tlsKey, "tlskey", os.Getenv("NATS_KEY"), "key of --tlscert (env NATS_KEY)")
	f.DurationVar(&natsOpts.timeout, "timeout", 5*time.Second, "how long to wait for a reply")
}

// natsContext is the part of a nats CLI context file wsheal reads.
type natsContext struct {
	URL      string `json:"url"`
	Creds    string `json:"creds"`
	User     string `json:"user"`
	Password string `json:"password"`
	CA       string `json:"ca"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
}

// loadContext reads ~/.config/nats/context/<name>.json; with no name, the
// context selected in ~/.config/nats/context.txt, if any.
func loadContext(name string) (natsContext, error) {
	var c natsContext
	dir, err := os.UserConfigDir()
	if err != nil {
		return c, nil
	}
	base := filepath.Join(dir, "nats")
	if name == "" {
		sel, err := os.ReadFile(filepath.Join(base, "context.txt"))
		if err != nil {
			return c, nil
		}
		name = strings.TrimSpace(string(sel))
		if name == "" {
			return c, nil
		}
	}
	b, err := os.ReadFile(filepath.Join(base, "context", name+".json"))
	if err != nil {
		return c, fmt.Errorf("nats context %q: %w", name, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("nats context %q: %w", name, err)
	}
	return c, nil
}

// connect opens the operator's NATS connection.
func connect() (*nats.Conn, error) {
	ctx, err := loadContext(natsOpts.context)
	if err != nil {
		return nil, err
	}
	url := firstNonEmpty(natsOpts.server, ctx.URL, nats.DefaultURL)
	opts := []nats.Option{nats.Name("wsheal-cli"), nats.Timeout(natsOpts.timeout)}
	switch creds, user := firstNonEmpty(natsOpts.creds, ctx.Creds), firstNonEmpty(natsOpts.user, ctx.User); {
	case creds != "":
		opts = append(opts, nats.UserCredentials(creds))
	case user != "":
		opts = append(opts, nats.UserInfo(user, firstNonEmpty(natsOpts.password, ctx.Password)))
	}
	if ca := firstNonEmpty(natsOpts.tlsCA, ctx.CA); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	if cert := firstNonEmpty(natsOpts.tlsCert, ctx.Cert); cert != "" {
		opts = append(opts, nats.ClientCert(cert, firstNonEmpty(natsOpts.tlsKey, ctx.Key)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s: %w (is wsheal dev or the compose stack running? set --server or NATS_URL)", url, err)
	}
	return nc, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
