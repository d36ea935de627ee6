package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamChannels     = "WSHEAL_CHANNELS"
	StreamAnomalies    = "WSHEAL_ANOMALIES"
	StreamRemediations = "WSHEAL_REMEDIATIONS"
	StreamIncidents    = "WSHEAL_INCIDENTS"
	StreamReviews      = "WSHEAL_REVIEWS"
	StreamHealth       = "WSHEAL_HEALTH"
	StreamOutbox       = "WSHEAL_OUTBOX"
)

// Key-value bucket names.
const (
	// BucketFleet: node id -> Registration, written by each gateway every
	// heartbeat; entries of dead nodes age out.
	BucketFleet = "wsheal_fleet"
	// BucketDesired: node id -> Settings (and drain/quarantine flags):
	// desired state that outlives a node restart.
	BucketDesired = "wsheal_desired"
	// BucketCommands: "<node>.<command id>" -> the reply already given, so
	// the same command id twice is done once, across restarts.
	BucketCommands = "wsheal_commands"
	// BucketIncidents: incident id -> Incident, updated with revision checks.
	BucketIncidents = "wsheal_incidents"
	// BucketHealer: the healer's durable state (pause, dry-run, hands-off,
	// backoff and retry counters).
	BucketHealer = "wsheal_healer"
	// BucketRecord: the healer's record per (anomaly kind, remedy, target
	// class): attempts, successes, failures by reason, time to verify,
	// side effects, last outcomes; updated with revision checks.
	BucketRecord = "wsheal_healer_record"
	// BucketMonitor: the monitor's durable state (open anomalies, baselines).
	BucketMonitor = "wsheal_monitor"
)

// StreamSpec declares a JetStream stream.
type StreamSpec struct {
	Name              string
	Description       string
	Subjects          []string
	Retention         jetstream.RetentionPolicy
	MaxAge            time.Duration
	MaxMsgsPerSubject int64
	Duplicates        time.Duration
}

// KVSpec declares a key-value bucket.
type KVSpec struct {
	Bucket      string
	Description string
	TTL         time.Duration
	History     uint8
}

// Streams are every stream wsheal uses.
var Streams = []StreamSpec{
	{Name: StreamChannels, Description: "client channel traffic, replayed on resume", Subjects: []string{DataAll},
		MaxAge: time.Hour, Duplicates: 2 * time.Minute},
	{Name: StreamAnomalies, Description: "anomalies opened and resolved by the monitor", Subjects: []string{AnomaliesAll},
		MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute},
	{Name: StreamRemediations, Description: "the healer's audit trail", Subjects: []string{RemediationsAll},
		MaxAge: 30 * 24 * time.Hour, Duplicates: 10 * time.Minute},
	{Name: StreamIncidents, Description: "incident changes and notification outcomes", Subjects: []string{IncidentsAll, NotificationsAll},
		MaxAge: 30 * 24 * time.Hour, Duplicates: 10 * time.Minute},
	{Name: StreamReviews, Description: "post-incident reviews, one per incident", Subjects: []string{ReviewsAll},
		MaxAge: 365 * 24 * time.Hour, MaxMsgsPerSubject: 1, Duplicates: 10 * time.Minute},
	{Name: StreamHealth, Description: "gateway health snapshots, connection and lifecycle events", Subjects: []string{HealthAll, ConnEventsAll, LifecycleAll},
		MaxAge: HealthRetention, Duplicates: time.Minute},
	{Name: StreamOutbox, Description: "the notifier's durable outbox", Subjects: []string{OutboxAll},
		Retention: jetstream.WorkQueuePolicy, MaxAge: 24 * time.Hour, Duplicates: 10 * time.Minute},
}

// Buckets are every key-value bucket wsheal uses.
// HealthRetention is how long WSHEAL_HEALTH keeps health snapshots, and
// so the longest range connection analytics can cover.
const HealthRetention = 6 * time.Hour

var Buckets = []KVSpec{
	{Bucket: BucketFleet, Description: "gateway registry", TTL: 30 * time.Second, History: 1},
	{Bucket: BucketDesired, Description: "desired node state", History: 5},
	{Bucket: BucketCommands, Description: "command replies by id", TTL: 30 * time.Minute, History: 1},
	{Bucket: BucketIncidents, Description: "incidents", History: 5},
	{Bucket: BucketHealer, Description: "healer state", History: 5},
	{Bucket: BucketRecord, Description: "healer record: what each remedy did", History: 1},
	{Bucket: BucketMonitor, Description: "monitor state", History: 1},
}

// EnsureOptions tunes Ensure.
type EnsureOptions struct {
	// Replicas of every stream and bucket: 1 for a single server, 3 for
	// the compose cluster.
	Replicas int
	// Channels, when set, are the channel stream's limits, applied to the
	// stream whether it exists or not: the gateway and `wsheal dev` set
	// them from WSHEAL_CHANNELS_*. When nil (the control-plane services)
	// the channel stream is created with DefaultChannelLimits if it is
	// missing and left as it is otherwise, so that a service started
	// without those variables never undoes an operator's settings.
	Channels *ChannelLimits
	// Storage defaults to file storage.
	Memory bool
}

// Ensure creates or updates every stream and bucket. It is idempotent:
// every service calls it at start.
func Ensure(ctx context.Context, js jetstream.JetStream, opt EnsureOptions) error {
	if opt.Replicas < 1 {
		opt.Replicas = 1
	}
	storage := jetstream.FileStorage
	if opt.Memory {
		storage = jetstream.MemoryStorage
	}
	for _, s := range Streams {
		cfg := jetstream.StreamConfig{
			Name:              s.Name,
			Description:       s.Description,
			Subjects:          s.Subjects,
			Retention:         s.Retention,
			MaxAge:            s.MaxAge,
			MaxMsgsPerSubject: s.MaxMsgsPerSubject,
			Duplicates:        s.Duplicates,
			Replicas:          opt.Replicas,
			Storage:           storage,
		}
		if cfg.MaxMsgsPerSubject == 0 {
			cfg.MaxMsgsPerSubject = -1
		}
		if s.Name == StreamChannels {
			if err := ensureChannels(ctx, js, cfg, opt.Channels); err != nil {
				return err
			}
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("events: ensure stream %s: %w", s.Name, err)
		}
	}
	for _, b := range Buckets {
		cfg := jetstream.KeyValueConfig{
			Bucket:      b.Bucket,
			Description: b.Description,
			TTL:         b.TTL,
			History:     b.History,
			Replicas:    opt.Replicas,
			Storage:     storage,
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("events: ensure bucket %s: %w", b.Bucket, err)
		}
	}
	return nil
}

// StreamFor returns the stream that stores subject, or "" if none does.
func StreamFor(subject string) string {
	for _, s := range Streams {
		for _, p := range s.Subjects {
			if SubjectMatches(p, subject) {
				return s.Name
			}
		}
	}
	return ""
}
