package events_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestChannelLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*events.ChannelLimits)
		want string
	}{
		{"defaults", func(*events.ChannelLimits) {}, ""},
		{"no age", func(l *events.ChannelLimits) { l.MaxAge = 0 }, "WSHEAL_CHANNELS_MAX_AGE"},
		{"no bytes", func(l *events.ChannelLimits) { l.MaxBytes = -1 }, "WSHEAL_CHANNELS_MAX_BYTES"},
		{"no size", func(l *events.ChannelLimits) { l.MaxMsgSize = 0 }, "WSHEAL_CHANNELS_MAX_MSG_SIZE"},
		{"per channel 0", func(l *events.ChannelLimits) { l.MaxMsgsPerChannel = 0 }, "WSHEAL_CHANNELS_MAX_MSGS_PER_CHANNEL"},
		{"per channel none", func(l *events.ChannelLimits) { l.MaxMsgsPerChannel = -1 }, ""},
		{"window past age", func(l *events.ChannelLimits) { l.Duplicates = 2 * time.Hour }, "WSHEAL_CHANNELS_DUPLICATES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := events.DefaultChannelLimits
			tt.edit(&l)
			err := l.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
