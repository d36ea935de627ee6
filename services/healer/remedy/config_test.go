package remedy_test

import (
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/services/healer/remedy"
)

// defaults is the config as envconfig reads it with no variable set.
func defaults(t *testing.T) remedy.Config {
	t.Helper()
	var c remedy.Config
	if err := envconfig.Process("WSHEAL_TEST", &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigDefaultsAreValid(t *testing.T) {
	c := defaults(t)
	if err := c.Validate("WSHEAL_TEST"); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Backoff.Healthy != 2*time.Minute || c.Budget.Burst != 10 || c.Learn.ExploreEvery != 10 ||
		c.Scale.InCooldown != 5*time.Minute || c.Poll != 250*time.Millisecond || c.CaseTTL != 24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	cases := []struct {
		name string
		edit func(*remedy.Config)
		want string
	}{
		{"ack wait", func(c *remedy.Config) { c.AckWait = 10 * time.Millisecond }, "WSHEAL_TEST_ACK_WAIT=10ms: want at least 1s"},
		{"poll", func(c *remedy.Config) { c.Poll = 0 }, "WSHEAL_TEST_VERIFY_POLL=0s: want a positive duration"},
		{"case ttl", func(c *remedy.Config) { c.CaseTTL = -time.Second }, "WSHEAL_TEST_INCIDENT_TTL=-1s: want a positive duration"},
		{"blast share", func(c *remedy.Config) { c.BlastShare = 1.5 }, "WSHEAL_TEST_BLAST_SHARE=1.5: want a share in (0, 1]"},
		{"durable", func(c *remedy.Config) { c.Durable = "" }, "WSHEAL_TEST_DURABLE=: want a consumer name"},
		{"backoff", func(c *remedy.Config) { c.Backoff.Healthy = 0 }, "WSHEAL_TEST_HEALTHY_PERIOD=0s: want a positive duration"},
		{"budget", func(c *remedy.Config) { c.Budget.Rate = 0 }, "WSHEAL_TEST_BUDGET_RATE=0: want actions per second, more than 0"},
		{"learn", func(c *remedy.Config) { c.Learn.ExploreMin = -1 }, "WSHEAL_TEST_EXPLORE_MIN=-1: want 0 or more"},
		{"scale min", func(c *remedy.Config) { c.Scale.Min = 0 }, "WSHEAL_TEST_SCALE_MIN=0: want 1..1000: the last node is never removed"},
		{"scale max", func(c *remedy.Config) { c.Scale.Min, c.Scale.Max = 3, 2 }, "WSHEAL_TEST_SCALE_MAX=2: want SCALE_MIN (3)..1000"},
		{"scale cooldown", func(c *remedy.Config) { c.Scale.InCooldown = -time.Second }, "WSHEAL_TEST_SCALE_IN_COOLDOWN=-1s: want 0 or more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaults(t)
			tc.edit(&c)
			if err := c.Validate("WSHEAL_TEST"); err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
