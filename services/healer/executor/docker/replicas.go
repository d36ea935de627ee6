package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Compose's labels on the containers it makes: the replica's number and
// the service it belongs to. Clone keeps a clone within the service by
// giving it the next number.
const (
	composeNumber  = "com.docker.compose.container-number"
	composeService = "com.docker.compose.service"
	composeProject = "com.docker.compose.project"
)

// Replica is a gateway container: its node id (the label's value, or its
// host name for a replica labelled HostnameValue) and what a rollout
// needs to know of it.
type Replica struct {
	Container
	Node    string `json:"node"`
	ImageID string `json:"image_id"` // what it runs
	Image   string `json:"image"`    // the reference it was made from (wsheal:local)
	Number  int    `json:"number"`   // compose's container number, 0 outside compose
}

// Replicas lists the running containers that carry the executor's label,
// by compose number then name: every gateway of the deployment, whatever
// their number.
func (c *Client) Replicas(ctx context.Context) ([]Replica, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {c.label}, "status": {"running", "paused", "restarting"}})
	var list []struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, http.MethodGet, "/containers/json", url.Values{"filters": {string(filters)}}, &list); err != nil {
		return nil, err
	}
	var out []Replica
	for _, x := range list {
		r, err := c.replica(ctx, x.ID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Number != out[j].Number {
			return out[i].Number < out[j].Number
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// rawInspect is the part of a container's inspect that a clone copies.
type rawInspect struct {
	ID     string          `json:"Id"`
	Name   string          `json:"Name"`
	Image  string          `json:"Image"`
	Config json.RawMessage `json:"Config"`
	Host   json.RawMessage `json:"HostConfig"`
	Net    struct {
		Networks map[string]struct {
			Aliases []string `json:"Aliases"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

func (c *Client) inspectRaw(ctx context.Context, id string) (rawInspect, map[string]any, error) {
	var raw rawInspect
	if err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", nil, &raw); err != nil {
		return raw, nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw.Config, &cfg); err != nil {
		return raw, nil, fmt.Errorf("%w: container %s: config: %w", ErrEngine, id, err)
	}
	return raw, cfg, nil
}

func (c *Client) replica(ctx context.Context, id string) (Replica, error) {
	ct, err := c.Inspect(ctx, id)
	if err != nil {
		return Replica{}, err
	}
	raw, cfg, err := c.inspectRaw(ctx, id)
	if err != nil {
		return Replica{}, err
	}
	labels, _ := cfg["Labels"].(map[string]any)
	r := Replica{Container: ct, ImageID: raw.Image}
	r.Image, _ = cfg["Image"].(string)
	r.Node, _ = labels[c.label].(string)
	if r.Node == HostnameValue {
		r.Node = ct.Hostname
	}
	if n, ok := labels[composeNumber].(string); ok {
		r.Number, _ = strconv.Atoi(n)
	}
	return r, nil
}

// ImageID is the id an image reference (wsheal:local) names now.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	var in struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, http.MethodGet, "/images/"+ref+"/json", nil, &in); err != nil {
		return "", err
	}
	return in.ID, nil
}

// trailingNumber is compose's replica suffix: _3 (docker-compose 1.x) or -3 (v2).
var trailingNumber = regexp.MustCompile(`([_-])(\d+)$`)

// Clone creates and starts one more replica like from: the same
// configuration, host settings and networks (with the same aliases, so
// the service's DNS name answers for it too), made from image (from's
// own reference when empty, which names the newest image of that tag),
// with a host name of its own (the engine's: the new container's id, so
// a gateway labelled HostnameValue is a new node) and, for a compose
// replica, the next free container number. It is how the healer adds a
// gateway and how a rollout replaces one.
func (c *Client) Clone(ctx context.Context, from Replica, image string, taken []Replica) (Replica, error) {
	raw, cfg, err := c.inspectRaw(ctx, from.ID)
	if err != nil {
		return Replica{}, err
	}
	if image != "" {
		cfg["Image"] = image
	}
	delete(cfg, "Hostname") // the engine's default: the id
	name := ""
	labels, _ := cfg["Labels"].(map[string]any)
	if _, ok := labels[composeNumber]; ok {
		next := 1
		for _, r := range taken {
			next = max(next, r.Number+1)
		}
		next = max(next, from.Number+1)
		labels[composeNumber] = strconv.Itoa(next)
		if m := trailingNumber.FindStringSubmatchIndex(strings.TrimPrefix(raw.Name, "/")); m != nil {
			base := strings.TrimPrefix(raw.Name, "/")
			name = base[:m[2]] + base[m[2]:m[3]] + strconv.Itoa(next)
		}
	}
	endpoints := map[string]any{}
	for netName, n := range raw.Net.Networks {
		var aliases []string
		for _, a := range n.Aliases {
			if !strings.HasPrefix(from.ID, a) { // the old container's own id
				aliases = append(aliases, a)
			}
		}
		endpoints[netName] = map[string]any{"Aliases": aliases}
	}
	var host map[string]any
	if err := json.Unmarshal(raw.Host, &host); err != nil {
		return Replica{}, fmt.Errorf("%w: container %s: host config: %w", ErrEngine, from.ID, err)
	}
	body := cfg
	body["HostConfig"] = host
	body["NetworkingConfig"] = map[string]any{"EndpointsConfig": endpoints}
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	var created struct {
		ID string `json:"Id"`
	}
	if err := c.do(ctx, http.MethodPost, "/containers/create", q, body, &created); err != nil {
		return Replica{}, err
	}
	if err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(created.ID)+"/start", nil, nil); err != nil {
		_ = c.Remove(context.WithoutCancel(ctx), created.ID)
		return Replica{}, err
	}
	return c.replica(ctx, created.ID)
}

// Stop stops a container, giving its process grace to finish (a gateway
// drains what is left of its clients).
func (c *Client) Stop(ctx context.Context, id string, grace time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(int(grace.Seconds()))}}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/stop", q, nil)
}

// Remove removes a stopped container and its anonymous volumes.
func (c *Client) Remove(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/containers/"+url.PathEscape(id), url.Values{"v": {"1"}, "force": {"1"}}, nil)
}
