# Prometheus for the compose profile `observability`: Debian's prometheus
# binary, the C library it links (ldd: libc and the loader, nothing else),
# its web assets and wsheal's config and rules. Built FROM scratch by
# `make observability-images` from a context that holds only these.
FROM scratch
COPY passwd group /etc/
COPY lib/ /
COPY probe /usr/local/bin/probe
COPY prometheus /usr/bin/prometheus
COPY web/ /usr/share/prometheus/web/
COPY prometheus.yml /etc/prometheus/prometheus.yml
COPY rules/ /etc/prometheus/rules/
COPY --chown=65532:65532 data/ /prometheus/
USER 65532:65532
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=0.0.0.0:9090"]
