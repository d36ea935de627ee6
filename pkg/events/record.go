package events

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The healer's record (BucketRecord) is read by three services: the
// healer writes it and chooses remedies by it, the notifier quotes it in
// reviews, the monitor's dashboard shows it. Its key encoding, its
// decoder and the figures derived from it live here, once, so the three
// read it the same way. RemedyRecord (healer_ctl.go) is its value.

// ErrRecordValue wraps every refusal of a record's key or value.
var ErrRecordValue = errors.New("events: record value")

// RecordKeyToken makes a record key token of any text: kept as is when it
// only holds letters, digits, '-' and '_', else "=" and its base64url
// (unpadded); the empty text is "=". It is the healer's KV key encoding
// (services/healer/state.Key).
func RecordKeyToken(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "=" + base64.RawURLEncoding.EncodeToString([]byte(s))
		}
	}
	if s == "" {
		return "="
	}
	return s
}

// RecordKeyText reverses RecordKeyToken. Only the token RecordKeyToken
// makes is accepted, so a text has one token and a key one meaning.
func RecordKeyText(tok string) (string, error) {
	s := tok
	if rest, ok := strings.CutPrefix(tok, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("%w: key token %q: %w", ErrRecordValue, tok, err)
		}
		s = string(b)
	}
	if RecordKeyToken(s) != tok {
		return "", fmt.Errorf("%w: key token %q is not as RecordKeyToken makes it", ErrRecordValue, tok)
	}
	return s, nil
}

// RecordKey is the BucketRecord key of the record of a remedy for an
// anomaly kind on a class of target: "<kind>.<class>.<remedy>", each made
// a token by RecordKeyToken.
func RecordKey(kind, class, remedy string) string {
	return RecordKeyToken(kind) + "." + RecordKeyToken(class) + "." + RecordKeyToken(remedy)
}

// RecordKeyFilter is the key filter of the records of an anomaly kind
// ("<kind>.>") or, with a class too, of a kind on a class
// ("<kind>.<class>.>"); every record (">") when kind is empty.
func RecordKeyFilter(kind, class string) string {
	switch {
	case kind == "":
		return ">"
	case class == "":
		return RecordKeyToken(kind) + ".>"
	}
	return RecordKeyToken(kind) + "." + RecordKeyToken(class) + ".>"
}

// ParseRecordKey reverses RecordKey.
func ParseRecordKey(key string) (kind, class, remedy string, err error) {
	toks := strings.Split(key, ".")
	if len(toks) != 3 {
		return "", "", "", fmt.Errorf("%w: key %q is not <kind>.<class>.<remedy>", ErrRecordValue, key)
	}
	var out [3]string
	for i, t := range toks {
		if out[i], err = RecordKeyText(t); err != nil {
			return "", "", "", err
		}
	}
	return out[0], out[1], out[2], nil
}

// DecodeRemedyRecord reads a record's value from BucketRecord. A value is
// acted on or quoted only when its figures make sense: a kind and a remedy
// named, counts not negative, no more successes or failures in a row than
// attempts, time buckets of the known bounds (VerifyBounds).
func DecodeRemedyRecord(b []byte) (RemedyRecord, error) {
	var r RemedyRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return RemedyRecord{}, fmt.Errorf("%w: %w", ErrRecordValue, err)
	}
	ok := r.Kind != "" && r.Remedy != "" && r.Attempts >= 0 && r.Successes >= 0 && r.Successes <= r.Attempts &&
		r.Streak >= 0 && r.Streak <= r.Attempts && r.VerifyMS >= 0 && r.WastedMS >= 0 && r.ClientsMoved >= 0 &&
		r.Pages >= 0
	if len(r.VerifyBuckets) != 0 && len(r.VerifyBuckets) != len(VerifyBounds)+1 {
		ok = false
	}
	for _, n := range r.VerifyBuckets {
		ok = ok && n >= 0
	}
	for _, n := range r.Failures {
		ok = ok && n >= 0
	}
	if !ok {
		return RemedyRecord{}, fmt.Errorf("%w: figures that make no sense", ErrRecordValue)
	}
	return r, nil
}

// SuccessRate is the share of attempts that succeeded, 0 without one.
func (r RemedyRecord) SuccessRate() float64 {
	if r.Attempts <= 0 {
		return 0
	}
	return float64(r.Successes) / float64(r.Attempts)
}

// Score is the Laplace-smoothed success rate (successes+1)/(attempts+2)
// the healer chooses by: an untried remedy scores 0.5, one that failed
// once 0.33, one that worked once 0.67.
func (r RemedyRecord) Score() float64 {
	return float64(r.Successes+1) / float64(r.Attempts+2)
}

// MedianVerify is the median time to verify of the successes, as the
// upper bound of the VerifyBounds bucket that holds it (the mean time to
// verify when that is the bucket above every bound); 0 without a success
// or without buckets of the known bounds.
func (r RemedyRecord) MedianVerify() time.Duration {
	if r.Successes <= 0 || len(r.VerifyBuckets) != len(VerifyBounds)+1 {
		return 0
	}
	half, seen := (r.Successes+1)/2, 0
	for i, n := range r.VerifyBuckets {
		seen += n
		if seen >= half {
			if i < len(VerifyBounds) {
				return time.Duration(VerifyBounds[i] * float64(time.Second))
			}
			break
		}
	}
	return time.Duration(r.VerifyMS/int64(r.Successes)) * time.Millisecond
}

// SortRemedyRecords orders records by kind, class and remedy.
func SortRemedyRecords(rs []RemedyRecord) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Remedy < b.Remedy
	})
}
