package sink

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, in string
		want     time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"zero", "0", 0},
		{"negative", "-4", 0},
		{"capped", "99999999999", time.Minute},
		{"date", now.Add(20 * time.Second).Format(http.TimeFormat), 20 * time.Second},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.in, now, time.Minute); got != tc.want {
				t.Fatalf("ParseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestClassifyStatus(t *testing.T) {
	for _, tc := range []struct {
		code       int
		retryAfter string
		retryable  bool
		err        error
		after      time.Duration
	}{
		{202, "", false, nil, 0},
		{200, "", false, nil, 0},
		{429, "7", true, ErrThrottled, 7 * time.Second},
		{429, "", true, ErrThrottled, 0},
		{500, "", true, ErrServer, 0},
		{503, "", true, ErrServer, 0},
		{400, "", false, ErrRejected, 0},
		{403, "", false, ErrRejected, 0},
		{404, "", false, ErrRejected, 0},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			h := http.Header{}
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			retry, err := ClassifyStatus(tc.code, h, []byte("body"))
			if retry != tc.retryable || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("ClassifyStatus(%d) = %v, %v; want %v, %v", tc.code, retry, err, tc.retryable, tc.err)
			}
			var ra *RetryAfterError
			if got := errors.As(err, &ra); got != (tc.after > 0) || (got && ra.After != tc.after) {
				t.Fatalf("retry after: %v %+v, want %v", got, ra, tc.after)
			}
		})
	}
}

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"good", `{"id":"m1","sink":"slack","action":"trigger","incident":{"id":"inc-1"}}`, true},
		{"no id", `{"sink":"slack","action":"trigger","incident":{"id":"inc-1"}}`, false},
		{"bad sink", `{"id":"m1","sink":"a.b","action":"trigger","incident":{"id":"inc-1"}}`, false},
		{"no incident", `{"id":"m1","sink":"slack","action":"trigger"}`, false},
		{"not json", `{`, false},
		{"oversize", `"` + strings.Repeat("x", MaxMessageSize) + `"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMessage([]byte(tc.in))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadMessage)) {
				t.Fatalf("DecodeMessage = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	m := Message{Action: ActionEscalate, Level: 2, Incident: events.Incident{ID: "inc-1", Severity: "SEV2", Title: "nodes down"}}
	if got := Title(m); !strings.Contains(got, "level 2") || !strings.Contains(got, "inc-1") || !strings.Contains(got, "SEV2") {
		t.Fatalf("Title = %q", got)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := ParseRetryAfter(s, time.Now(), MaxRetryAfter); d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v out of range", s, d)
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"id":"m1","sink":"slack","action":"trigger","incident":{"id":"inc-1"}}`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err == nil && (m.ID == "" || m.Incident.ID == "") {
			t.Fatalf("accepted %q without id", b)
		}
	})
}
