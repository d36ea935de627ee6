# The wsheal-tools image: the load and chaos tools (module tools/), apart
# from the wsheal image so that the services' image holds no bench code.
# compose's demo `bench` service runs it. Built by `make images` from a
# context that holds only what is copied below.
FROM scratch
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 data/ /data/
COPY wsheal-tools /usr/local/bin/
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/wsheal-tools"]
CMD ["--help"]
