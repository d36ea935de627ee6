# The NATS image: nats-server built from its Go module, plus probe for
# the healthcheck (a scratch image has no shell or curl).
# JetStream keeps its files under /data, a named volume in compose.
FROM scratch
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data/ /data/
COPY nats-server probe /usr/local/bin/
USER 65532:65532
WORKDIR /data
EXPOSE 4222 6222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["--config", "/etc/nats/server.conf"]
