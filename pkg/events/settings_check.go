package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Bounds of the values a node accepts as desired Settings. A value read
// from BucketDesired outside them is refused and the node keeps the
// settings it has: anyone who could write the bucket must not be able to
// make a node refuse every client (max_conns 0) or spin (ping every 1 ms).
const (
	MaxSettingsConns      = 10_000_000
	MaxSettingsAcceptRate = 1_000_000
	MinSettingsPeriodMS   = 10
	MaxSettingsPeriodMS   = int64(10 * time.Minute / time.Millisecond)
	MaxSettingsIdleMS     = int64(7 * 24 * time.Hour / time.Millisecond)
)

// ErrSettings is wrapped by Settings.Validate and DecodeSettings.
var ErrSettings = errors.New("events: bad settings")

// Validate checks every field against its bounds: max_conns 1..10e6,
// accept_rate in (0, 1e6], accept_burst 1..10e6, ping and pong periods
// 10 ms..10 min, idle timeout 0 (none)..7 days.
func (s Settings) Validate() error {
	switch {
	case s.MaxConns < 1 || s.MaxConns > MaxSettingsConns:
		return fmt.Errorf("%w: max_conns %d, want 1..%d", ErrSettings, s.MaxConns, MaxSettingsConns)
	case !(s.AcceptRate > 0 && s.AcceptRate <= MaxSettingsAcceptRate):
		return fmt.Errorf("%w: accept_rate %v, want (0, %d]", ErrSettings, s.AcceptRate, MaxSettingsAcceptRate)
	case s.AcceptBurst < 1 || s.AcceptBurst > MaxSettingsConns:
		return fmt.Errorf("%w: accept_burst %d, want 1..%d", ErrSettings, s.AcceptBurst, MaxSettingsConns)
	case s.PingIntervalMS < MinSettingsPeriodMS || s.PingIntervalMS > MaxSettingsPeriodMS:
		return fmt.Errorf("%w: ping_interval_ms %d, want %d..%d", ErrSettings, s.PingIntervalMS, MinSettingsPeriodMS, MaxSettingsPeriodMS)
	case s.PongDeadlineMS < MinSettingsPeriodMS || s.PongDeadlineMS > MaxSettingsPeriodMS:
		return fmt.Errorf("%w: pong_deadline_ms %d, want %d..%d", ErrSettings, s.PongDeadlineMS, MinSettingsPeriodMS, MaxSettingsPeriodMS)
	case s.IdleTimeoutMS < 0 || s.IdleTimeoutMS > MaxSettingsIdleMS:
		return fmt.Errorf("%w: idle_timeout_ms %d, want 0..%d", ErrSettings, s.IdleTimeoutMS, MaxSettingsIdleMS)
	}
	return nil
}

// DecodeSettings reads a BucketDesired entry: bounded size, strict JSON,
// every field within Validate's bounds.
func DecodeSettings(b []byte) (Settings, error) {
	var s Settings
	if len(b) > MaxEventSize {
		return s, fmt.Errorf("%w: %d bytes", ErrSettings, len(b))
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	return s, s.Validate()
}
