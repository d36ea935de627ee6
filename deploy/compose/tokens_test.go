package compose

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// mintToken signs an HS256 JWT for every channel, valid for ttl, as the
// gateways expect with WSHEAL_GATEWAY_AUTH=jwt (the compose default).
func mintToken(secret string, ttl time.Duration) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"sub": "wsheal-e2e", "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"subs": []string{"*"}, "pubs": []string{"*"}})
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// clientTokens returns the SDK's TokenFunc for the compose gateways: a
// fresh token signed with the generated secret (secrets/gateway.env).
func clientTokens(t *testing.T) func(context.Context) (string, error) {
	t.Helper()
	env, err := readEnvFile(filepath.Join("secrets", "gateway.env"))
	if err != nil {
		t.Fatal(err)
	}
	secret := env["WSHEAL_GATEWAY_JWT_SECRET"]
	if secret == "" {
		t.Fatal("secrets/gateway.env has no WSHEAL_GATEWAY_JWT_SECRET: run make secrets")
	}
	return func(context.Context) (string, error) { return mintToken(secret, 10*time.Minute), nil }
}

// dashboardToken is the monitor's dashboard bearer token (secrets/monitor.env).
func dashboardToken(t *testing.T) string {
	t.Helper()
	env, err := readEnvFile(filepath.Join("secrets", "monitor.env"))
	if err != nil {
		t.Fatal(err)
	}
	return env["WSHEAL_MONITOR_DASHBOARD_TOKEN"]
}
