package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// kvTimeout bounds one KV operation of a command.
const kvTimeout = 3 * time.Second

// startControl registers the node's micro service: one instance per node,
// endpoints under events.GatewayControlGroup(node). A handler's panic is
// counted as a refusal of kind panic.
func (s *Service) startControl() error {
	ctl, err := service.AddControl(s.nc, service.Control{
		Service:     events.ServiceGateway,
		Node:        s.cfg.Node,
		Description: "wsheal gateway node " + s.cfg.Node,
		Metadata:    map[string]string{"node": s.cfg.Node, "url": s.URL()},
		Log:         s.log,
		OnPanic:     func(string) { s.metrics.refuse(refusedInternal) },
	},
		service.Handle(events.CtlGatewayStatus, s.ctlStatus),
		service.Handle(events.CtlGatewayReconnect, s.ctlReconnect),
		service.Handle(events.CtlGatewayResize, s.ctlResize),
		service.Handle(events.CtlGatewayDrain, s.ctlDrain),
		service.Handle(events.CtlGatewayUndrain, s.ctlUndrain),
	)
	if err != nil {
		return fmt.Errorf("gateway: control service: %w", err)
	}
	s.control = ctl
	return nil
}

// ctlStatus answers the summary and, if asked, a filtered list of
// connections.
func (s *Service) ctlStatus(_ context.Context, cmd *events.GatewayStatusRequest) (events.GatewayStatus, error) {
	st := s.status()
	if cmd.Conns {
		limit := cmd.Limit
		if limit == 0 {
			limit = 100
		}
		now := time.Now()
		for _, c := range s.pool.Conns(s.selector(cmd.Select, nil, now)) {
			if len(st.Conns) >= limit {
				break
			}
			st.Conns = append(st.Conns, c.Info(now, s.pool.IsStale(c, now)))
		}
	}
	return st, nil
}

func (s *Service) status() events.GatewayStatus {
	return events.GatewayStatus{
		Node: s.cfg.Node, URL: s.URL(), Version: events.Version, StartedAt: s.started,
		Connections: s.pool.Len(), Draining: s.pool.Draining(), Settings: s.pool.Settings(),
		Channels: s.hub.Stats().Channels, RTT: s.pool.RTT(),
	}
}

// ctlResize changes limits and keeps them as desired state so that a
// restarted node keeps them.
func (s *Service) ctlResize(ctx context.Context, cmd *events.ResizeCommand) (events.Settings, error) {
	return once(ctx, s, cmd.ID, func(ctx context.Context) (events.Settings, error) {
		set := s.pool.Settings()
		if cmd.Reset {
			set = s.cfg.settings()
		}
		mergeSettings(&set, cmd)
		if err := set.Validate(); err != nil {
			return events.Settings{}, events.Errorf(events.CodeBadRequest, "%v", err)
		}
		b, _ := json.Marshal(set)
		if _, err := s.desired.Put(ctx, s.cfg.Node, b); err != nil {
			return events.Settings{}, events.Errorf(events.CodeUnavailable, "desired state not saved: %v", err)
		}
		s.pool.Apply(set)
		s.log.Info().Interface("settings", set).Str("command_id", cmd.ID).Msg("resized")
		return set, nil
	})
}

func mergeSettings(set *events.Settings, cmd *events.ResizeCommand) {
	if cmd.MaxConns != nil {
		set.MaxConns = *cmd.MaxConns
	}
	if cmd.AcceptRate != nil {
		set.AcceptRate = *cmd.AcceptRate
	}
	if cmd.AcceptBurst != nil {
		set.AcceptBurst = *cmd.AcceptBurst
	}
	if cmd.PingIntervalMS != nil {
		set.PingIntervalMS = *cmd.PingIntervalMS
	}
	if cmd.PongDeadlineMS != nil {
		set.PongDeadlineMS = *cmd.PongDeadlineMS
	}
	if cmd.IdleTimeoutMS != nil {
		set.IdleTimeoutMS = *cmd.IdleTimeoutMS
	}
}

// loadDesired applies the settings a resize left in the desired-state
// bucket before this process started. Every value is validated first: a
// value out of bounds (a forged max_conns 0 that would refuse everyone) is
// logged and skipped, and the newest valid revision of the key's history
// applies instead (the last good setting), else the configuration.
func (s *Service) loadDesired(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	hist, err := s.desired.History(ctx, s.cfg.Node)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn().Err(err).Msg("desired state not read; using the configuration")
		}
		return
	}
	for i := len(hist) - 1; i >= 0; i-- {
		e := hist[i]
		if e.Operation() != jetstream.KeyValuePut {
			return // deleted or purged: the configuration applies
		}
		set, err := events.DecodeSettings(e.Value())
		if err != nil {
			s.log.Error().Err(err).Uint64("revision", e.Revision()).
				Msg("desired state rejected; looking for the last good one")
			continue
		}
		s.pool.Apply(set)
		s.log.Info().Interface("settings", set).Uint64("revision", e.Revision()).Msg("desired settings applied")
		return
	}
	s.log.Error().Msg("no valid desired state; using the configuration")
}

// once runs a mutating command at most once per id: the reply is kept in
// events.BucketCommands under "<node>.<id>" before it is sent, and given
// again for a repeat, across restarts. Replies that say "unavailable" or
// "internal" are not kept, so that a retry can succeed.
func once[Rep any](ctx context.Context, s *Service, id string, do func(ctx context.Context) (Rep, error)) (Rep, error) {
	var zero Rep
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	key := commandKey(s.cfg.Node, id)
	e, err := s.commands.Get(ctx, key)
	switch {
	case err == nil:
		return replay[Rep](e.Value())
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return zero, events.Errorf(events.CodeUnavailable, "command store: %v", err)
	}
	rep, err := do(ctx)
	var body []byte
	if err != nil {
		var ce *events.Error
		if !errors.As(err, &ce) {
			ce = events.Errorf(events.CodeInternal, "%v", err)
		}
		if ce.Code == events.CodeUnavailable || ce.Code == events.CodeInternal {
			return zero, ce
		}
		rep, err = zero, ce
		body, _ = json.Marshal(events.Reply{OK: false, Error: ce})
	} else {
		raw, _ := json.Marshal(rep)
		body, _ = json.Marshal(events.Reply{OK: true, Data: raw})
	}
	if _, kerr := s.commands.Create(ctx, key, body); kerr != nil {
		s.log.Warn().Err(kerr).Str("command_id", id).Msg("command reply not kept")
	}
	return rep, err
}

// replay is the kept reply of a repeated command.
func replay[Rep any](body []byte) (Rep, error) {
	var rep Rep
	err := events.DecodeReply(body, &rep)
	var de *events.DecodeError
	if errors.As(err, &de) {
		return rep, events.Errorf(events.CodeInternal, "stored reply unreadable: %v", err)
	}
	return rep, err
}

// commandKey is the KV key of a command id; ids with characters a key
// cannot hold are hashed.
func commandKey(node, id string) string {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
			sum := sha256.Sum256([]byte(id))
			return node + ".h" + hex.EncodeToString(sum[:16])
		}
	}
	return node + "." + id
}
