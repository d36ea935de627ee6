package notifier

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/notifier/policy"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Levels) != 2 || p.Levels[0].Timeout != 10*time.Minute || !p.PagesAtOnce(policy.SEV1) || p.PagesAtOnce(policy.SEV2) ||
		p.PageAfterFailures != 1 || p.Repeat != time.Hour || p.UnhealedAfter != 15*time.Minute || c.PagerDutyURL == "" {
		t.Fatalf("defaults %+v policy %+v", c, p)
	}
	if len(c.Sinks()) != 0 {
		t.Fatalf("sinks configured by default: %v", c.Sinks())
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("WSHEAL_NOTIFIER_SLACK_URL", "https://hooks.slack.test/x")
	t.Setenv("WSHEAL_NOTIFIER_PAGERDUTY_ROUTING_KEY", "rk")
	t.Setenv("WSHEAL_NOTIFIER_ESCALATION", "pagerduty@1m;slack")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Sinks(), ","); got != sink.Slack+","+sink.PagerDuty {
		t.Fatalf("sinks %s", got)
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env, value, want string
	}{
		{"WSHEAL_NOTIFIER_ESCALATION", "pager", "WSHEAL_NOTIFIER_ESCALATION"},
		{"WSHEAL_NOTIFIER_ESCALATION", "pagerduty;slack", "WSHEAL_NOTIFIER_ESCALATION"},
		{"WSHEAL_NOTIFIER_PAGE_SEVERITIES", "SEV9", "WSHEAL_NOTIFIER_PAGE_SEVERITIES"},
		{"WSHEAL_NOTIFIER_SUMMARY_SINKS", "email", "WSHEAL_NOTIFIER_SUMMARY_SINKS"},
		{"WSHEAL_NOTIFIER_TICK", "0s", "WSHEAL_NOTIFIER_TICK"},
		{"WSHEAL_NOTIFIER_REPEAT", "-1s", "WSHEAL_NOTIFIER_REPEAT"},
		{"WSHEAL_NOTIFIER_BURST", "0", "WSHEAL_NOTIFIER_BURST"},
		{"WSHEAL_NOTIFIER_RETRY_ATTEMPTS", "50", "WSHEAL_NOTIFIER_RETRY_ATTEMPTS"},
		{"WSHEAL_NOTIFIER_WEBHOOK_URL", "ftp://x", "WSHEAL_NOTIFIER_WEBHOOK_URL"},
		{"WSHEAL_NOTIFIER_INSTANCE", "a.b", "WSHEAL_NOTIFIER_INSTANCE"},
		{"WSHEAL_NOTIFIER_NATS_REPLICAS", "9", "WSHEAL_NOTIFIER_NATS_REPLICAS"},
		{"WSHEAL_NOTIFIER_GROUP_WINDOW", "soon", "GROUP_WINDOW"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			_, err := ConfigFromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to name %s", err, tc.want)
			}
		})
	}
}

func TestDeprecatedAlertmanagerURL(t *testing.T) {
	t.Setenv("WSHEAL_NOTIFIER_ALERTMANAGER_URL", "http://receiver.test/hook")
	t.Setenv("WSHEAL_NOTIFIER_ESCALATION", "alertmanager")
	t.Setenv("WSHEAL_NOTIFIER_SUMMARY_SINKS", "alertmanager,alertmanager-webhook")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Policy()
	if got := strings.Join(c.Sinks(), ","); got != sink.AlertmanagerWebhook || c.WebhookFormatURL() != "http://receiver.test/hook" {
		t.Fatalf("old ALERTMANAGER_URL: sinks %s url %s", got, c.WebhookFormatURL())
	}
	if p.Levels[0].Sinks[0] != sink.AlertmanagerWebhook || strings.Join(p.SummarySinks, ",") != sink.AlertmanagerWebhook {
		t.Fatalf("old name not mapped: %+v", p)
	}
	// With the API configured, "alertmanager" is the API v2 sink again.
	t.Setenv("WSHEAL_NOTIFIER_ALERTMANAGER_API_URL", "http://am.test:9093")
	if c, err = ConfigFromEnv(); err != nil {
		t.Fatal(err)
	}
	p, _ = c.Policy()
	if got := strings.Join(c.Sinks(), ","); got != sink.Alertmanager+","+sink.AlertmanagerWebhook || p.Levels[0].Sinks[0] != sink.Alertmanager {
		t.Fatalf("with the API: sinks %s policy %+v", got, p)
	}
	t.Setenv("WSHEAL_NOTIFIER_ALERTMANAGER_WEBHOOK_URL", "http://other.test/")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "ALERTMANAGER_WEBHOOK_URL") {
		t.Fatalf("conflicting URLs: %v", err)
	}
}
