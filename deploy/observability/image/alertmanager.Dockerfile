# Alertmanager for the compose profile `observability`: Debian's
# prometheus-alertmanager binary, the C library it links (ldd: libc and the
# loader), the notification templates it reads from
# /usr/share/prometheus/alertmanager and wsheal's config. Built FROM scratch by
# `make observability-images`.
FROM scratch
COPY passwd group /etc/
COPY lib/ /
COPY probe /usr/local/bin/probe
COPY alertmanager /usr/bin/alertmanager
COPY share/ /usr/share/prometheus/alertmanager/
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
COPY --chown=65532:65532 data/ /alertmanager/
USER 65532:65532
WORKDIR /alertmanager
ENTRYPOINT ["/usr/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--web.listen-address=0.0.0.0:9093", "--cluster.listen-address="]
