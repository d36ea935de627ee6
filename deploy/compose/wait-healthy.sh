#!/usr/bin/env bash
# wait-healthy.sh PROJECT [TIMEOUT_SECONDS]
# Waits until every container of the compose project is healthy (or, for
# one without a healthcheck, running; or, for a one-shot like
# setup-streams, exited with status 0). Prints the laggards while waiting
# and their last health log when it gives up.
set -euo pipefail
project=${1:?usage: wait-healthy.sh PROJECT [TIMEOUT_SECONDS]}
timeout=${2:-180}
end=$((SECONDS + timeout))
state() {
	docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else if and (eq .State.Status "exited") (eq .State.ExitCode 0)}}completed{{else}}{{.State.Status}}{{end}}' "$@" | sed 's#^/##'
}
while :; do
	mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=${project}")
	if [ ${#ids[@]} -eq 0 ]; then
		echo "wait-healthy: no container in project ${project}" >&2
		exit 1
	fi
	waiting=$(state "${ids[@]}" | awk '$2 != "healthy" && $2 != "running" && $2 != "completed"')
	if [ -z "$waiting" ]; then
		echo "all ${#ids[@]} containers of ${project} are healthy"
		exit 0
	fi
	if [ $SECONDS -ge $end ]; then
		echo "wait-healthy: not healthy after ${timeout}s:" >&2
		echo "$waiting" >&2
		for n in $(echo "$waiting" | awk '{print $1}'); do
			docker inspect -f '{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}' "$n" | tail -3 >&2 || true
		done
		exit 1
	fi
	line="waiting for: $(echo "$waiting" | tr '\n' ' ')"
	if [ "$line" != "${last:-}" ]; then
		echo "$line"
		last=$line
	fi
	sleep 2
done
