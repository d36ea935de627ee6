// Package auth verifies the HS256 JWT a client presents when it connects
// and answers which channels it may subscribe and publish to.
//
// The token comes from the "token" query parameter or an
// "Authorization: Bearer" header. Its claims:
//
//	{"sub": "user-42", "exp": 1767225600,
//	 "subs": ["news", "chat:*"], "pubs": ["chat:*"]}
//
// A pattern is a channel name, a prefix ending in "*" ("chat:*" matches
// "chat:room1") or "*" alone (every channel).
//
// Guarantees: only HS256 tokens signed with the secret are accepted
// ("alg": "none" and every other algorithm are refused). "exp" is
// required unless the verifier is built with AllowNoExpiry
// (WSHEAL_GATEWAY_JWT_ALLOW_NO_EXP=true); an expired token is refused, and
// a connection whose token expires while it is open is closed with
// frame.CloseTokenExpired. With WithAudience (WSHEAL_GATEWAY_JWT_AUDIENCE)
// the token's "aud" must contain it; with WithIssuer
// (WSHEAL_GATEWAY_JWT_ISSUER) its "iss" must equal it. One second of
// leeway is allowed on time claims.
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors of Verify; each maps to a close code.
var (
	ErrMissing = errors.New("auth: missing token")
	ErrInvalid = errors.New("auth: invalid token")
	ErrExpired = errors.New("auth: token expired")
)

// Claims are a client's identity and channel permissions.
type Claims struct {
	jwt.RegisteredClaims
	Subs []string `json:"subs,omitempty"`
	Pubs []string `json:"pubs,omitempty"`
}

// AllowAll is the grant of every connection when auth is off.
var AllowAll = &Claims{Subs: []string{"*"}, Pubs: []string{"*"}}

// CanSubscribe reports whether the claims allow subscribing to ch.
func (c *Claims) CanSubscribe(ch string) bool { return match(c.Subs, ch) }

// CanPublish reports whether the claims allow publishing to ch.
func (c *Claims) CanPublish(ch string) bool { return match(c.Pubs, ch) }

// Expires is the token's expiry, zero if none.
func (c *Claims) Expires() time.Time {
	if c.ExpiresAt == nil {
		return time.Time{}
	}
	return c.ExpiresAt.Time
}

func match(patterns []string, ch string) bool {
	for _, p := range patterns {
		if p == ch || p == "*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(ch, prefix) {
			return true
		}
	}
	return false
}

// Verifier checks tokens. The zero Verifier (no secret) allows everyone.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// Option tightens or loosens what a Verifier accepts.
type Option func(*options)

type options struct {
	audience, issuer string
	noExp            bool
}

// WithAudience requires "aud" to contain aud (no check if empty).
func WithAudience(aud string) Option { return func(o *options) { o.audience = aud } }

// WithIssuer requires "iss" to be iss (no check if empty).
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// AllowNoExpiry accepts tokens without "exp" (they never expire).
func AllowNoExpiry(allow bool) Option { return func(o *options) { o.noExp = allow } }

// NewVerifier returns a verifier of HS256 tokens signed with secret; an
// empty secret turns auth off. Tokens must carry "exp" unless
// AllowNoExpiry(true) is given.
func NewVerifier(secret string, opts ...Option) *Verifier {
	var o options
	for _, f := range opts {
		f(&o)
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(time.Second)}
	if o.audience != "" {
		popts = append(popts, jwt.WithAudience(o.audience))
	}
	if o.issuer != "" {
		popts = append(popts, jwt.WithIssuer(o.issuer))
	}
	if !o.noExp {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	return &Verifier{secret: []byte(secret), parser: jwt.NewParser(popts...)}
}

// Verify returns the claims of the request's token.
func (v *Verifier) Verify(r *http.Request) (*Claims, error) {
	if v == nil || len(v.secret) == 0 {
		return AllowAll, nil
	}
	raw := r.URL.Query().Get("token")
	if raw == "" {
		raw, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if raw == "" {
		return nil, ErrMissing
	}
	return v.Parse(raw)
}

// Parse verifies a raw token.
func (v *Verifier) Parse(raw string) (*Claims, error) {
	var c Claims
	_, err := v.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &c, nil
}

// Sign issues a token; for tests and the CLI.
func Sign(secret string, c Claims) (string, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}
