# Berth in a container: built in the official Rust image on Debian bookworm, run on
# debian:bookworm-slim as an unprivileged user.
#
#   docker build -t berth .
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth berth
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth \
#     -v ./berth.toml:/etc/berth/berth.toml:ro -e BERTH_CONFIG=/etc/berth/berth.toml berth
#
# Every setting can also come from a BERTH_* environment variable (see `berth serve --help`);
# S3 credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the PostgreSQL URL from
# BERTH_METADATA_URL.

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
USER 10001:10001
# Listen on every interface inside the container; the data directory is the volume.
ENV BERTH_LISTEN=0.0.0.0:5000 \
    BERTH_DATA_DIR=/var/lib/berth
VOLUME ["/var/lib/berth"]
WORKDIR /var/lib/berth
EXPOSE 5000
# `berth serve` drains requests on SIGTERM, as `docker stop` sends.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
