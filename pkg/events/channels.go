package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ChannelsDirectGet is the JetStream direct-get subject of the channel
// stream: nodes read replays and gap fills with batch direct gets on it
// (the stream has AllowDirect), costing no consumer. A gateway's NATS user
// needs publish permission on it and subscribe on LiveAll.
const ChannelsDirectGet = "$JS.API.DIRECT.GET." + StreamChannels

// ChannelLimits are the retention settings of the channel stream
// (StreamChannels). They are read from WSHEAL_CHANNELS_* by whoever
// ensures the streams with them (the gateway and `wsheal dev`): process
// the struct with envconfig under the prefix "WSHEAL".
//
// The stream is byte-limited and discards old messages first, so a flood
// of channel traffic evicts old channel messages and never fills the
// store that the control plane's streams and buckets need.
type ChannelLimits struct {
	MaxAge            time.Duration `envconfig:"CHANNELS_MAX_AGE" default:"1h" desc:"how long channel messages are kept for resume"`
	MaxBytes          int64         `envconfig:"CHANNELS_MAX_BYTES" default:"1073741824" desc:"byte limit of the channel stream; the oldest messages are discarded first"`
	MaxMsgSize        int32         `envconfig:"CHANNELS_MAX_MSG_SIZE" default:"65536" desc:"largest channel message the stream stores, in bytes"`
	MaxMsgsPerChannel int64         `envconfig:"CHANNELS_MAX_MSGS_PER_CHANNEL" default:"100000" desc:"messages kept per channel (the oldest go first); -1: no limit"`
	Duplicates        time.Duration `envconfig:"CHANNELS_DUPLICATES" default:"2m" desc:"window in which a publish retried with the same idem is stored once"`
}

// DefaultChannelLimits are the limits of the envconfig defaults.
var DefaultChannelLimits = ChannelLimits{
	MaxAge:            time.Hour,
	MaxBytes:          1 << 30,
	MaxMsgSize:        64 << 10,
	MaxMsgsPerChannel: 100000,
	Duplicates:        2 * time.Minute,
}

// ErrChannelLimits is wrapped by ChannelLimits.Validate.
var ErrChannelLimits = errors.New("events: channel limits")

// Validate checks the limits; each error names its variable.
func (l ChannelLimits) Validate() error {
	switch {
	case l.MaxAge <= 0:
		return fmt.Errorf("%w: WSHEAL_CHANNELS_MAX_AGE=%v: want > 0", ErrChannelLimits, l.MaxAge)
	case l.MaxBytes <= 0:
		return fmt.Errorf("%w: WSHEAL_CHANNELS_MAX_BYTES=%d: want > 0 (the store is shared with the control plane)", ErrChannelLimits, l.MaxBytes)
	case l.MaxMsgSize <= 0:
		return fmt.Errorf("%w: WSHEAL_CHANNELS_MAX_MSG_SIZE=%d: want > 0", ErrChannelLimits, l.MaxMsgSize)
	case l.MaxMsgsPerChannel == 0 || l.MaxMsgsPerChannel < -1:
		return fmt.Errorf("%w: WSHEAL_CHANNELS_MAX_MSGS_PER_CHANNEL=%d: want > 0 or -1", ErrChannelLimits, l.MaxMsgsPerChannel)
	case l.Duplicates <= 0 || l.Duplicates > l.MaxAge:
		return fmt.Errorf("%w: WSHEAL_CHANNELS_DUPLICATES=%v: want > 0 and at most MAX_AGE (%v)", ErrChannelLimits, l.Duplicates, l.MaxAge)
	}
	return nil
}

// apply sets the limits on the channel stream's config: byte-limited with
// DiscardOld, republishing every stored message to LiveSubject (the live
// flow, without a JetStream consumer per channel) and answering direct
// gets (replays and gap fills read pages of one channel from any replica).
func (l ChannelLimits) apply(cfg *jetstream.StreamConfig) {
	cfg.MaxAge = l.MaxAge
	cfg.MaxBytes = l.MaxBytes
	cfg.MaxMsgSize = l.MaxMsgSize
	cfg.MaxMsgsPerSubject = l.MaxMsgsPerChannel
	cfg.Duplicates = l.Duplicates
	cfg.Discard = jetstream.DiscardOld
	cfg.AllowDirect = true
	cfg.RePublish = &jetstream.RePublish{Source: DataAll, Destination: LiveRoot + ".>"}
}

// ensureChannels creates the channel stream, or updates it when limits
// are given.
func ensureChannels(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, limits *ChannelLimits) error {
	l := DefaultChannelLimits
	if limits != nil {
		if err := limits.Validate(); err != nil {
			return err
		}
		l = *limits
	}
	l.apply(&cfg)
	var err error
	if limits != nil {
		_, err = js.CreateOrUpdateStream(ctx, cfg)
	} else if _, err = js.Stream(ctx, cfg.Name); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another service created it meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("events: ensure stream %s: %w", cfg.Name, err)
	}
	return nil
}

// ChannelEpoch is the identity of the channel stream, derived from its
// creation time: every node of a deployment reads the same one, and it
// changes when the stream is recreated (its sequences start again).
// Positions (epoch, seq) of one epoch mean nothing in another.
func ChannelEpoch(created time.Time) string {
	return strconv.FormatInt(created.UTC().UnixNano(), 36)
}
