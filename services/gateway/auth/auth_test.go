package auth

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const secret = "0123456789abcdef-test"

func token(t *testing.T, c Claims) string {
	t.Helper()
	s, err := Sign(secret, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPatterns(t *testing.T) {
	c := &Claims{Subs: []string{"news", "chat:*"}, Pubs: []string{"*"}}
	cases := []struct {
		ch       string
		sub, pub bool
	}{
		{"news", true, true}, {"newsx", false, true}, {"chat:1", true, true},
		{"chat:", true, true}, {"chat", false, true}, {"other", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.ch, func(t *testing.T) {
			if got := c.CanSubscribe(tc.ch); got != tc.sub {
				t.Errorf("subscribe %q = %v", tc.ch, got)
			}
			if got := c.CanPublish(tc.ch); got != tc.pub {
				t.Errorf("publish %q = %v", tc.ch, got)
			}
		})
	}
	if (&Claims{}).CanSubscribe("news") {
		t.Error("no claims must allow nothing")
	}
}

func TestVerify(t *testing.T) {
	v := NewVerifier(secret)
	valid := Claims{Subs: []string{"a"}}
	valid.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	expired := Claims{}
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	other, _ := Sign("another-secret-entirely", valid)
	cases := []struct {
		name, query, header string
		want                error
	}{
		{"query", "?token=" + token(t, valid), "", nil},
		{"header", "", "Bearer " + token(t, valid), nil},
		{"missing", "", "", ErrMissing},
		{"expired", "?token=" + token(t, expired), "", ErrExpired},
		{"alg none", "?token=" + none, "", ErrInvalid},
		{"other secret", "?token=" + other, "", ErrInvalid},
		{"garbage", "?token=a.b.c", "", ErrInvalid},
		{"no exp", "?token=" + token(t, Claims{Subs: []string{"a"}}), "", ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ws"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			c, err := v.Verify(r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && !c.CanSubscribe("a") {
				t.Fatalf("claims lost: %+v", c)
			}
		})
	}
	if c, err := (*Verifier)(nil).Verify(httptest.NewRequest("GET", "/ws", nil)); err != nil || c != AllowAll {
		t.Fatalf("auth off: %v %v", c, err)
	}
}

func TestVerifyClaimsChecked(t *testing.T) {
	claims := func(aud, iss string, exp bool) string {
		c := Claims{Subs: []string{"a"}}
		if aud != "" {
			c.Audience = jwt.ClaimStrings{aud}
		}
		c.Issuer = iss
		if exp {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}
		return token(t, c)
	}
	strict := NewVerifier(secret, WithAudience("wsheal"), WithIssuer("https://id.example"))
	loose := NewVerifier(secret, AllowNoExpiry(true))
	cases := []struct {
		name string
		v    *Verifier
		tok  string
		ok   bool
	}{
		{"aud and iss match", strict, claims("wsheal", "https://id.example", true), true},
		{"wrong aud", strict, claims("other", "https://id.example", true), false},
		{"no aud", strict, claims("", "https://id.example", true), false},
		{"wrong iss", strict, claims("wsheal", "https://evil.example", true), false},
		{"no exp refused by default", strict, claims("wsheal", "https://id.example", false), false},
		{"no exp allowed", loose, claims("", "", false), true},
		{"aud ignored when not set", loose, claims("anything", "anyone", true), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Parse(tc.tok)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// FuzzParse: any token string is refused or accepted without a panic, and
// only a correctly signed one is accepted.
func FuzzParse(f *testing.F) {
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	if s, err := Sign(secret, Claims{Subs: []string{"x"}}); err == nil {
		f.Add(s)
	}
	v := NewVerifier(secret)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Parse(raw)
		if err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
