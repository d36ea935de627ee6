// Package docker restarts a gateway's container through the Docker Engine
// API over its unix socket: the container is found by a label naming the
// node (io.wsheal.node=<node> by default), or, for the replicas of a
// scaled service that share one definition, by the label's value
// HostnameValue (io.wsheal.node=@hostname): such a container runs the
// node named by its host name, which is the node id a gateway takes when
// none is set. Then it is restarted.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of the Docker executor.
var (
	ErrEngine   = errors.New("docker: engine")
	ErrNotFound = errors.New("docker: no container")
)

// DefaultSocket is where the engine listens on Linux.
const DefaultSocket = "/var/run/docker.sock"

// DefaultLabel names the node a container runs.
const DefaultLabel = "io.wsheal.node"

// HostnameValue as the label's value says that the container's host name
// is its node id (the replicas of `docker compose up --scale gateway=N`).
const HostnameValue = "@hostname"

// Client is a small Docker Engine API client over a unix socket.
type Client struct {
	socket string
	label  string
	http   *http.Client
}

// New returns a client of the engine at socket that finds containers by label.
func New(socket, label string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, label: label, http: &http.Client{Transport: tr}}
}

// Socket is the engine's socket path.
func (c *Client) Socket() string { return c.socket }

// Container is what the executor needs of a container.
type Container struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Hostname string    `json:"hostname"`
	Running  bool      `json:"running"`
	Paused   bool      `json:"paused"`
	Started  time.Time `json:"started_at"`
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, out any) error {
	return c.do(ctx, method, path, q, nil, out)
}

// do sends one request, with in as its JSON body when not nil, and
// decodes the answer into out. 404 is ErrNotFound; 304 (a container
// already in the asked state) is success.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := "http://docker" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %w", ErrEngine, method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEngine, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrEngine, method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrEngine, method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s %s: %s", ErrNotFound, method, path, message(b))
	case resp.StatusCode == http.StatusNotModified:
		return nil
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%w: %s %s: %d %s", ErrEngine, method, path, resp.StatusCode, message(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s %s: decode: %w", ErrEngine, method, path, err)
		}
	}
	return nil
}

// message extracts the engine's {"message": ...} error text.
func message(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return string(body)
}

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/_ping", nil, nil)
}

// Find returns node's container, preferring a running one: labelled with
// node, or labelled HostnameValue with node as its host name.
func (c *Client) Find(ctx context.Context, node string) (Container, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {c.label}})
	var list []struct {
		ID     string            `json:"Id"`
		State  string            `json:"State"`
		Labels map[string]string `json:"Labels"`
	}
	q := url.Values{"all": {"1"}, "filters": {string(filters)}}
	if err := c.call(ctx, http.MethodGet, "/containers/json", q, &list); err != nil {
		return Container{}, err
	}
	var found []Container
	for _, x := range list {
		switch x.Labels[c.label] {
		case node:
		case HostnameValue:
			if !strings.HasPrefix(x.ID, node) && !isHostname(node) {
				continue // a default host name is the id's first 12 digits: skip the inspect
			}
		default:
			continue
		}
		ct, err := c.Inspect(ctx, x.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return Container{}, err
		}
		if x.Labels[c.label] == HostnameValue && ct.Hostname != node {
			continue
		}
		found = append(found, ct)
	}
	if len(found) == 0 {
		return Container{}, fmt.Errorf("%w labelled %s=%s (or %s with host name %s)", ErrNotFound, c.label, node, HostnameValue, node)
	}
	for _, ct := range found {
		if ct.Running {
			return ct, nil
		}
	}
	return found[0], nil
}

// isHostname reports whether node may be a host name set by hand (not a
// container id's prefix), which only an inspect can match.
func isHostname(node string) bool {
	for _, r := range node {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return true
		}
	}
	return false
}

// Inspect reads a container's state.
func (c *Client) Inspect(ctx context.Context, id string) (Container, error) {
	var in struct {
		ID     string `json:"Id"`
		Name   string `json:"Name"`
		Config struct {
			Hostname string `json:"Hostname"`
		} `json:"Config"`
		State struct {
			Running   bool      `json:"Running"`
			Paused    bool      `json:"Paused"`
			StartedAt time.Time `json:"StartedAt"`
		} `json:"State"`
	}
	if err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", nil, &in); err != nil {
		return Container{}, err
	}
	return Container{ID: in.ID, Name: in.Name, Hostname: in.Config.Hostname, Running: in.State.Running, Paused: in.State.Paused,
		Started: in.State.StartedAt}, nil
}

// Restart restarts a container, giving its process grace to stop.
func (c *Client) Restart(ctx context.Context, id string, grace time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(int(grace.Seconds()))}}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/restart", q, nil)
}

// Unpause resumes a paused (frozen) container.
func (c *Client) Unpause(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/unpause", nil, nil)
}

// RestartNode finds node's container and restarts it, unless it already
// started after since (a restart already done for this attempt by a
// replica that crashed before recording it). A paused container (a hung
// node) is unpaused first: the engine refuses to restart it otherwise.
func (c *Client) RestartNode(ctx context.Context, node string, since time.Time, grace time.Duration) (Container, error) {
	ct, err := c.Find(ctx, node)
	if err != nil {
		return ct, err
	}
	if ct.Running && !ct.Paused && !since.IsZero() && ct.Started.After(since) {
		return ct, nil
	}
	if ct.Paused {
		if err := c.Unpause(ctx, ct.ID); err != nil {
			return ct, err
		}
	}
	if err := c.Restart(ctx, ct.ID, grace); err != nil {
		return ct, err
	}
	return c.Inspect(ctx, ct.ID)
}
