# Berth in a container: built in the official Rust image on Debian bookworm, run on
# debian:bookworm-slim as an unprivileged user (uid 10001), with the default config
# packaging/docker/berth.toml at /etc/berth/berth.toml (listen 0.0.0.0:5000, data in the
# /var/lib/berth volume, no access control).
#
#   docker build -t berth .
#   # a trial: an open registry, anyone who reaches port 5000 may push and delete
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth -e BERTH_OPEN_REGISTRY=true berth
#   # production: a config with [auth] (and the files it names) replaces the default wholly
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth -v /etc/berth:/etc/berth:ro berth
#
# Every setting can also come from a BERTH_* environment variable (see `berth serve --help`),
# which outranks the config file; S3 credentials come from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, the PostgreSQL URL from BERTH_METADATA_URL.

FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates ./crates
RUN cargo build --release --locked -p berth --bin berth \
    && install -D -m 0755 target/release/berth /out/berth

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 berth \
    && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth --shell /usr/sbin/nologin berth \
    && install -d -o berth -g berth -m 0750 /var/lib/berth
COPY --from=build /out/berth /usr/local/bin/berth
COPY packaging/docker/berth.toml /etc/berth/berth.toml
USER 10001:10001
# The settings live in the config file alone (listen 0.0.0.0:5000, data in the volume), so
# that a config mounted over it is obeyed as written: BERTH_LISTEN or BERTH_DATA_DIR here
# would silently outrank its `listen` and `data_dir`.
ENV BERTH_CONFIG=/etc/berth/berth.toml
VOLUME ["/var/lib/berth"]
WORKDIR /var/lib/berth
EXPOSE 5000
# `berth serve` drains requests on SIGTERM, as `docker stop` sends.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
