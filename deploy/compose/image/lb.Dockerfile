# The load balancer image: Debian's haproxy binary with the shared
# libraries ldd lists (copied by `make images` under root/, at their
# paths), the probe for the healthcheck, nothing else. The configuration
# is mounted from deploy/compose/lb/haproxy.cfg.
FROM scratch
COPY root/ /
COPY passwd group /etc/
COPY probe /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/sbin/haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
