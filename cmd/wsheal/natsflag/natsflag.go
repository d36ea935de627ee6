package natsflag

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"
)

// Flags follow the nats CLI's conventions: --server/-s, --creds, --user,
// --password, --context, the TLS files, and the NATS_URL, NATS_CREDS,
// NATS_USER, NATS_PASSWORD, NATS_CONTEXT, NATS_CA, NATS_CERT and NATS_KEY
// environment variables.
type Flags struct {
	Server, Creds, User, Password, Context string
	TLSCA, TLSCert, TLSKey                 string
	// Timeout bounds the connect and every request-reply.
	Timeout time.Duration
}

// Register adds the flags to fs, their defaults read from the environment.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Server, "server", "s", os.Getenv("NATS_URL"), "NATS server URLs (env NATS_URL; default nats://127.0.0.1:4222)")
	fs.StringVar(&f.Creds, "creds", os.Getenv("NATS_CREDS"), "NATS user credentials file (env NATS_CREDS)")
	fs.StringVar(&f.User, "user", os.Getenv("NATS_USER"), "NATS user (env NATS_USER)")
	fs.StringVar(&f.Password, "password", os.Getenv("NATS_PASSWORD"), "NATS password (env NATS_PASSWORD)")
	fs.StringVar(&f.Context, "context", os.Getenv("NATS_CONTEXT"), "a nats CLI context name (env NATS_CONTEXT)")
	fs.StringVar(&f.TLSCA, "tlsca", os.Getenv("NATS_CA"), "CA to verify the NATS server with (env NATS_CA)")
	fs.StringVar(&f.TLSCert, "tlscert", os.Getenv("NATS_CERT"), "client certificate for NATS mutual TLS (env NATS_CERT)")
	fs.StringVar(&f.TLSKey, "tlskey", os.Getenv("NATS_KEY"), "key of --tlscert (env NATS_KEY)")
	fs.DurationVar(&f.Timeout, "timeout", 5*time.Second, "how long to wait for a reply")
}

// context is the part of a nats CLI context file wsheal reads.
type context struct {
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
func loadContext(name string) (context, error) {
	var c context
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

// Connect opens the operator's NATS connection, named name (as `nats
// server report connections` shows it).
func (f *Flags) Connect(name string) (*nats.Conn, error) {
	ctx, err := loadContext(f.Context)
	if err != nil {
		return nil, err
	}
	url := firstNonEmpty(f.Server, ctx.URL, nats.DefaultURL)
	opts := []nats.Option{nats.Name(name), nats.Timeout(f.Timeout)}
	switch creds, user := firstNonEmpty(f.Creds, ctx.Creds), firstNonEmpty(f.User, ctx.User); {
	case creds != "":
		opts = append(opts, nats.UserCredentials(creds))
	case user != "":
		opts = append(opts, nats.UserInfo(user, firstNonEmpty(f.Password, ctx.Password)))
	}
	if ca := firstNonEmpty(f.TLSCA, ctx.CA); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	if cert := firstNonEmpty(f.TLSCert, ctx.Cert); cert != "" {
		opts = append(opts, nats.ClientCert(cert, firstNonEmpty(f.TLSKey, ctx.Key)))
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
