package client

// delivery is a message or a gap on its way to a subscription's callbacks.
type delivery struct {
	sub *Subscription
	msg Message
	gap *Gap
}

// enqueue hands a delivery to the delivery goroutine; it blocks while the
// queue is full (back-pressure on the reader) unless the client stops.
func (c *Client) enqueue(d delivery) {
	select {
	case c.deliveries <- d:
	case <-c.ctx.Done():
	}
}

// dispatch is the delivery goroutine: handlers run here, in order.
func (c *Client) dispatch() {
	for {
		select {
		case d := <-c.deliveries:
			if c.ctx.Err() != nil || d.sub.ended() {
				continue
			}
			if d.gap != nil {
				c.deliverGap(d.sub, *d.gap)
				continue
			}
			d.sub.handler(d.msg)
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) deliverGap(sub *Subscription, g Gap) {
	switch {
	case sub.onGap != nil:
		sub.onGap(g)
	case c.cfg.OnGap != nil:
		c.cfg.OnGap(g)
	}
}
