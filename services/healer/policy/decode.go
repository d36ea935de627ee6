package policy

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a policy file.
const MaxFileSize = 1 << 20

// FieldError is one problem in a policy file: where, which field, what.
type FieldError struct {
	Source string
	Line   int
	Field  string // a path such as policies[1].actions[0].deadline
	Msg    string
}

// Error reads source:line: field: message.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.Source, e.Line, e.Field, e.Msg)
}

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// UnmarshalYAML reads "30s", "2m", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 30s", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Load reads the policy file at path, or the built-in policies when path is "".
func Load(path string) (*Set, error) {
	if path == "" {
		return Decode(DefaultYAML, "built-in")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	return Decode(b, path)
}

// Default returns the built-in policies.
func Default() *Set {
	s, err := Decode(DefaultYAML, "built-in")
	if err != nil {
		panic("policy: built-in policies are invalid: " + err.Error())
	}
	return s
}

// Decode parses and validates a policy file (YAML, or JSON which YAML
// reads). Errors name the source, the line and the field.
func Decode(b []byte, source string) (*Set, error) {
	if len(b) > MaxFileSize {
		return nil, &FieldError{Source: source, Line: 1, Field: "file", Msg: fmt.Sprintf("%d bytes, at most %d", len(b), MaxFileSize)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(source, err)
	}
	if len(bytes.TrimSpace(b)) == 0 || len(root.Content) == 0 {
		return nil, &FieldError{Source: source, Line: 1, Field: "policies", Msg: "the file is empty"}
	}
	s := &Set{Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, yamlError(source, err)
	}
	v := validator{source: source, root: root.Content[0]}
	v.set(s)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	for i := range s.Policies {
		for j := range s.Policies[i].Actions {
			s.Policies[i].Actions[j].fill()
		}
		for j := range s.Policies[i].Then {
			s.Policies[i].Then[j].fill()
		}
	}
	return s, nil
}

// Encode writes the set back as YAML (the effective policies, defaults filled).
func (s *Set) Encode() []byte {
	b, err := yaml.Marshal(s)
	if err != nil {
		return []byte("# cannot encode: " + err.Error() + "\n")
	}
	return b
}

// yamlError turns yaml.v3's "line N: msg" errors into FieldErrors.
func yamlError(source string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		line := 0
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if num, tail, found := strings.Cut(rest, ":"); found {
				if n, convErr := strconv.Atoi(num); convErr == nil {
					line, m = n, strings.TrimSpace(tail)
				}
			}
		}
		errs = append(errs, &FieldError{Source: source, Line: line, Field: fieldOf(m), Msg: m})
	}
	return errors.Join(errs...)
}

// fieldOf picks the field name out of a yaml.v3 message such as
// "field foo not found in type policy.Step".
func fieldOf(m string) string {
	if rest, ok := strings.CutPrefix(m, "field "); ok {
		if name, _, found := strings.Cut(rest, " "); found {
			return name
		}
	}
	return "yaml"
}

// checkURL accepts absolute http and https URLs.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL", raw)
	}
	return nil
}
