# The wsheal image: every service in one static binary; the compose
# service's `command:` picks one (gateway, monitor, healer, notifier,
# receiver); the load and chaos tools are in the wsheal-tools image.
# probe is the healthcheck of healer and notifier.
# Built by `make images` from a context that holds only what is copied
# below, so nothing else from the host leaks in.
FROM scratch
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data/ /data/
COPY wsheal probe /usr/local/bin/
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/wsheal"]
CMD ["--help"]
