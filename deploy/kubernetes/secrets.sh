#!/usr/bin/env bash
# deploy/kubernetes/secrets.sh [DIR]: write DIR/*.env (default
# deploy/kubernetes/secrets), the Secrets' contents that kustomize's
# secretGenerator reads, with random passwords and tokens, when absent;
# existing files are kept. They are git-ignored: never commit them.
set -euo pipefail
dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
rnd() { local s; s=$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9'); echo "${s:0:${1:-24}}"; }
write() { # file, then its lines on stdin
	if [ -e "$dir/$1" ]; then echo "kept $dir/$1"; cat >/dev/null; return; fi
	umask 077; cat > "$dir/$1"; echo "wrote $dir/$1"
}
# Passwords shared between the NATS servers and their users: read them back
# from nats.env when it exists, so that a second run keeps them in step.
get() { [ -e "$dir/nats.env" ] && sed -n "s/^$1=//p" "$dir/nats.env" || true; }
route=$(get NATS_ROUTE_PASSWORD); route=${route:-$(rnd)}
gw=$(get WSHEAL_GATEWAY_PASSWORD); gw=${gw:-$(rnd)}
mon=$(get WSHEAL_MONITOR_PASSWORD); mon=${mon:-$(rnd)}
hl=$(get WSHEAL_HEALER_PASSWORD); hl=${hl:-$(rnd)}
nt=$(get WSHEAL_NOTIFIER_PASSWORD); nt=${nt:-$(rnd)}
op=$(get WSHEAL_OPERATOR_PASSWORD); op=${op:-$(rnd)}
app=$(get WSHEAL_APP_PASSWORD); app=${app:-$(rnd)}
metrics=$(rnd 32)
write nats.env <<E
NATS_ROUTE_PASSWORD=$route
NATS_ROUTE_1=nats-route://route:$route@nats-0.nats-cluster:6222
NATS_ROUTE_2=nats-route://route:$route@nats-1.nats-cluster:6222
NATS_ROUTE_3=nats-route://route:$route@nats-2.nats-cluster:6222
WSHEAL_GATEWAY_PASSWORD=$gw
WSHEAL_MONITOR_PASSWORD=$mon
WSHEAL_HEALER_PASSWORD=$hl
WSHEAL_NOTIFIER_PASSWORD=$nt
WSHEAL_OPERATOR_PASSWORD=$op
WSHEAL_APP_PASSWORD=$app
E
write gateway.env <<E
WSHEAL_GATEWAY_NATS_USER=gateway
WSHEAL_GATEWAY_NATS_PASSWORD=$gw
WSHEAL_GATEWAY_JWT_SECRET=$(rnd 40)
WSHEAL_GATEWAY_METRICS_TOKEN=$metrics
E
write monitor.env <<E
WSHEAL_MONITOR_NATS_USER=monitor
WSHEAL_MONITOR_NATS_PASSWORD=$mon
WSHEAL_MONITOR_METRICS_TOKEN=$metrics
WSHEAL_MONITOR_DASHBOARD_TOKEN=$(rnd 32)
E
write healer.env <<E
WSHEAL_HEALER_NATS_USER=healer
WSHEAL_HEALER_NATS_PASSWORD=$hl
WSHEAL_HEALER_METRICS_TOKEN=$metrics
E
write notifier.env <<E
WSHEAL_NOTIFIER_NATS_USER=notifier
WSHEAL_NOTIFIER_NATS_PASSWORD=$nt
WSHEAL_NOTIFIER_METRICS_TOKEN=$metrics
WSHEAL_NOTIFIER_WEBHOOK_SECRET=$(rnd 32)
# Sinks: point them at your Slack, PagerDuty or webhook receiver, e.g.
# WSHEAL_NOTIFIER_SLACK_URL=https://hooks.slack.com/services/T000/B000/XXXX
# WSHEAL_NOTIFIER_PAGERDUTY_ROUTING_KEY=<Events API v2 integration key>
E
write operator.env <<E
NATS_USER=operator
NATS_PASSWORD=$op
E
