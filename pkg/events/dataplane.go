package events

// DataPlane is a node's channel-traffic health inside its Health snapshot.
// Counters are per health interval, like the rest of Health; gauges are the
// value at the time of the snapshot. A limit of 0 means none is known.
type DataPlane struct {
	// Subscribes: subscribe frames answered in the interval;
	// SubscribeErrors: those answered with an error frame other than a
	// client mistake (unavailable, internal).
	Subscribes      int `json:"subscribes"`
	SubscribeErrors int `json:"subscribe_errors"`
	// Publishes and PublishErrors: the same for publish frames.
	Publishes     int `json:"publishes"`
	PublishErrors int `json:"publish_errors"`
	// Resumes: subscribes with since; NotRecovered: the resumes answered
	// recovered:false (the gap left retention, another epoch, a limit).
	Resumes      int `json:"resumes"`
	NotRecovered int `json:"not_recovered"`
	// Replayed: messages delivered by resumes in the interval.
	Replayed int `json:"replayed"`
	// Channels with local subscribers (gauge) and the node's limit.
	Channels     int `json:"channels"`
	ChannelLimit int `json:"channel_limit"`
	// StreamBytes: bytes held by the channel stream; StreamMaxBytes its
	// configured byte limit.
	StreamBytes    uint64 `json:"stream_bytes"`
	StreamMaxBytes int64  `json:"stream_max_bytes"`
	// StoreUsed: JetStream storage used by the account (every stream and
	// bucket); StoreLimit: the account's or server's storage limit.
	StoreUsed  uint64 `json:"store_used"`
	StoreLimit int64  `json:"store_limit"`
	// Consumers on the channel stream (gauge) and the stream's or
	// account's consumer limit.
	Consumers     int `json:"consumers"`
	ConsumerLimit int `json:"consumer_limit"`
}
