// Package redact keeps secrets inside the process: it removes URLs'
// credentials, secret-looking URL parts, bearer tokens, key=value secrets
// and every value registered as a secret from text bound for a log line,
// an event, an error reply or the dashboard.
//
// Guarantees: String never returns a registered secret (nor its
// URL-escaped form) nor the user info or query of a URL; it keeps JSON
// valid (replacements hold no quote); it is safe for concurrent use. It is
// one helper for every sink: the root logger's writer (service.Logger),
// the event emitter (events.Emitter.Publish), the notifier's outcomes and
// the monitor's dashboard all call it.
package redact

import (
	"errors"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Mask replaces what is redacted.
const Mask = "[REDACTED]"

// minSecret is the shortest value Register keeps: shorter ones would mask
// ordinary words.
const minSecret = 6

var known struct {
	sync.RWMutex
	list []string
}

// Register adds secrets (sink URLs, tokens, passwords) that String masks
// wherever they appear, as given and URL-escaped. Values shorter than six
// bytes are ignored. For a URL, its path and query are registered as well,
// so that a client library's rewriting of the host does not leak them.
func Register(secrets ...string) {
	known.Lock()
	defer known.Unlock()
	for _, s := range secrets {
		for _, v := range variants(s) {
			if len(v) >= minSecret && !slices.Contains(known.list, v) {
				known.list = append(known.list, v)
			}
		}
	}
	// Longest first, so that a secret holding another is masked whole.
	slices.SortFunc(known.list, func(a, b string) int { return len(b) - len(a) })
}

func variants(s string) []string {
	s = strings.TrimSpace(s)
	out := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		if len(u.Path) > 1 {
			out = append(out, u.Path, u.EscapedPath())
		}
		if u.RawQuery != "" {
			out = append(out, u.RawQuery)
		}
		if u.User != nil {
			out = append(out, u.User.String())
		}
	}
	return out
}

var (
	// scheme://user:pass@host -> scheme://[REDACTED]@host
	userInfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@"'<>]+@`)
	// a URL's query, up to white space or a quote
	query = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s"'<>?#]*)\?[^\s"'<>#]+`)
	// a URL, to look at its path segments
	anyURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s"'<>]+`)
	// Authorization header values
	bearer = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*`)
	// "password":"...", "token":"..." in JSON
	jsonSecret = regexp.MustCompile(`(?i)("(?:[a-z_]*_)?(?:token|password|passwd|secret|api_?key|routing_key|authorization|signature)"\s*:\s*")[^"]*(")`)
	// password=..., token: ... in text
	kvSecret = regexp.MustCompile(`(?i)\b((?:[a-z_]*_)?(?:token|password|passwd|secret|api_?key|routing_key|signature)\s*[=:]\s*)([^\s"',&}]{4,})`)
	// a run in a URL path that may be generated: 16+ letters, digits, '-', '_'
	tokenRun = regexp.MustCompile(`[A-Za-z0-9_\-]{16,}`)
)

// String returns s with every secret masked.
func String(s string) string {
	known.RLock()
	for _, v := range known.list {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	known.RUnlock()
	s = userInfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = query.ReplaceAllString(s, "${1}?"+Mask)
	s = anyURL.ReplaceAllStringFunc(s, maskPath)
	s = bearer.ReplaceAllString(s, "${1} "+Mask)
	s = jsonSecret.ReplaceAllString(s, "${1}"+Mask+"${2}")
	s = kvSecret.ReplaceAllString(s, "${1}"+Mask)
	return s
}

// Bytes is String for a byte slice; it returns b itself when nothing was
// masked.
func Bytes(b []byte) []byte {
	r := String(string(b))
	if r == string(b) {
		return b
	}
	return []byte(r)
}

// maskPath masks the runs in a URL's path that look like tokens (a Slack
// or Discord webhook's secret part): 16 or more letters, digits, '-' or
// '_' holding both a letter and a digit.
func maskPath(u string) string {
	i := strings.Index(u, "://")
	slash := strings.IndexByte(u[i+3:], '/')
	if slash < 0 {
		return u
	}
	at := i + 3 + slash
	return u[:at] + tokenRun.ReplaceAllStringFunc(u[at:], func(run string) string {
		if strings.ContainsAny(run, "0123456789") && strings.IndexFunc(run, isLetter) >= 0 {
			return Mask
		}
		return run
	})
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// Err is an error whose message is redacted; Unwrap gives the original,
// so errors.Is and errors.As still see it.
type Err struct{ err error }

// Error is the redacted message.
func (e *Err) Error() string { return String(e.err.Error()) }

// Unwrap returns the original error.
func (e *Err) Unwrap() error { return e.err }

// Error wraps err so that its message is redacted; nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var r *Err
	if errors.As(err, &r) && r == err {
		return err
	}
	return &Err{err: err}
}

// Writer returns a writer that redacts every write before passing it to
// w: the root logger writes through it, one line per write.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (r writer) Write(p []byte) (int, error) {
	if _, err := r.w.Write(Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
