package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lxzan/gws"
)

// dialWS dials target, upgrades, and returns the socket with s as its
// event handler. DialTimeout bounds it, Close cancels it.
func (c *Client) dialWS(target string, s *session) (*gws.Conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("%w: gateway url %q", ErrConfig, target)
	}
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	if token != "" {
		q := u.Query()
		q.Set("token", token)
		u.RawQuery = q.Encode()
	}
	nc, err := c.dialTCP(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", target, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	opt := &gws.ClientOption{Addr: u.String(), HandshakeTimeout: c.cfg.DialTimeout}
	conn, resp, err := gws.NewClientFromConn(s, opt, nc)
	if !stop() {
		if err == nil {
			_ = conn.NetConn().Close()
		}
		return nil, fmt.Errorf("client: upgrade %s: %w", target, ctx.Err())
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HandshakeError{Status: resp.StatusCode, URL: target, RetryAfter: retryAfter(resp)}
		}
		return nil, fmt.Errorf("client: upgrade %s: %w", target, err)
	}
	s.conn = conn
	return conn, nil
}

func (c *Client) dialTCP(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "wss" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	nc, err := c.cfg.Dialer.DialContext(ctx, "tcp", host)
	if err != nil || u.Scheme != "wss" {
		return nc, err
	}
	tc := &tls.Config{}
	if c.cfg.TLS != nil {
		tc = c.cfg.TLS.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	tlsConn := tls.Client(nc, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return tlsConn, nil
}

// discovery is the answer of GET /v1/connect.
type discovery struct {
	URL string `json:"url"`
}

// discover asks the discovery endpoint which gateway to use.
func (c *Client) discover() (string, error) {
	if c.http == nil {
		c.http = &http.Client{
			Timeout: c.cfg.DialTimeout,
			Transport: &http.Transport{
				DialContext:       c.cfg.Dialer.DialContext,
				TLSClientConfig:   c.cfg.TLS,
				DisableKeepAlives: true,
			},
		}
	}
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.cfg.Discovery, nil)
	if err != nil {
		return "", fmt.Errorf("%w: discovery: %v", ErrConfig, err)
	}
	token, err := c.token(c.ctx)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: discovery: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", &HandshakeError{Status: resp.StatusCode, URL: c.cfg.Discovery, RetryAfter: retryAfter(resp)}
	}
	var d discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&d); err != nil {
		return "", fmt.Errorf("client: discovery: bad answer: %w", err)
	}
	if err := checkURL(d.URL, "ws", "wss"); err != nil {
		return "", fmt.Errorf("client: discovery: %w", err)
	}
	return d.URL, nil
}

// retryAfter reads a Retry-After header in seconds, bounded by a minute.
func retryAfter(resp *http.Response) time.Duration {
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, time.Minute)
}

// token is Config.Token, or a fresh one from Config.TokenFunc.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.cfg.TokenFunc == nil {
		return c.cfg.Token, nil
	}
	t, err := c.cfg.TokenFunc(ctx)
	if err != nil {
		return "", fmt.Errorf("client: token: %w", err)
	}
	return t, nil
}
