package dev

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/embedded"
)

// natsCluster is the embedded NATS of a dev stack: one server, or a
// cluster of three with replicated JetStream so that losing a NATS node
// can be tried for real (`--nats-cluster 3`, `wsheal.ctl.dev.nats`).
type natsCluster struct {
	mu    sync.Mutex
	nodes []*natsNode
}

type natsNode struct {
	name string
	opts embedded.Options
	srv  *server.Server
}

// newNATSCluster plans n servers: client ports from port (or random
// ones when port < 0), cluster routes on random free ports.
func newNATSCluster(host string, port, n int, dataDir string) (*natsCluster, error) {
	c := &natsCluster{}
	var routes []string
	for i := range n {
		o := embedded.Options{Host: host, Port: port, Name: fmt.Sprintf("n%d", i+1),
			StoreDir: filepath.Join(dataDir, "jetstream", fmt.Sprintf("n%d", i+1))}
		if port > 0 {
			o.Port = port + i
		} else if n > 1 {
			p, err := freePort(host)
			if err != nil {
				return nil, err
			}
			o.Port = p
		}
		if n > 1 {
			cp, err := freePort(host)
			if err != nil {
				return nil, err
			}
			o.ClusterName, o.ClusterPort = "wsheal-dev", cp
			routes = append(routes, fmt.Sprintf("nats-route://%s:%d", host, cp))
		}
		c.nodes = append(c.nodes, &natsNode{name: o.Name, opts: o})
	}
	for _, nd := range c.nodes {
		nd.opts.Routes = routes
	}
	return c, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("dev: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start starts every server at once (a cluster needs its peers to elect)
// and returns the first failure once every start has returned.
func (c *natsCluster) start(log zerolog.Logger) error {
	g, _ := service.NewGroup(context.Background(), log)
	for _, nd := range c.nodes {
		g.Go("nats "+nd.name, func(context.Context) error { return c.startNode(nd) })
	}
	return g.Wait()
}

func (c *natsCluster) startNode(nd *natsNode) error {
	srv, err := embedded.Start(nd.opts)
	if err != nil {
		return fmt.Errorf("dev: NATS %s on port %d: %w (is another NATS or wsheal dev running? try --nats-port -1)", nd.name, nd.opts.Port, err)
	}
	c.mu.Lock()
	nd.srv = srv
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		nd.opts.Port = a.Port // a random port is kept for restarts and urls
	}
	c.mu.Unlock()
	return nil
}

// urls is every server's client URL, comma-separated: what the services
// are given, so they reconnect to the others when one goes.
func (c *natsCluster) urls() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, nd := range c.nodes {
		out = append(out, fmt.Sprintf("nats://%s:%d", nd.opts.Host, nd.opts.Port))
	}
	return strings.Join(out, ",")
}

func (c *natsCluster) size() int { return len(c.nodes) }

func (c *natsCluster) node(name string) (*natsNode, error) {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd, nil
		}
	}
	return nil, fmt.Errorf("no NATS node %q (have n1..n%d)", name, len(c.nodes))
}

// stopNode shuts one server down, as a lost NATS node.
func (c *natsCluster) stopNode(name string) error {
	nd, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	srv := nd.srv
	nd.srv = nil
	c.mu.Unlock()
	if srv == nil {
		return fmt.Errorf("NATS %s is not running", name)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}

// restartNode starts a stopped server again with its own storage.
func (c *natsCluster) restartNode(ctx context.Context, name string) error {
	nd, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	running := nd.srv != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("NATS %s is already running", name)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.startNode(nd)
}

// running lists the servers and whether each runs.
func (c *natsCluster) running() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, nd := range c.nodes {
		out[nd.name] = nd.srv != nil
	}
	return out
}

func (c *natsCluster) shutdown() {
	c.mu.Lock()
	nodes := append([]*natsNode(nil), c.nodes...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, nd := range nodes {
		c.mu.Lock()
		srv := nd.srv
		nd.srv = nil
		c.mu.Unlock()
		if srv != nil {
			wg.Add(1)
			go func() { defer wg.Done(); srv.Shutdown(); srv.WaitForShutdown() }()
		}
	}
	wg.Wait()
}
