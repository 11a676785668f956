# syntax=docker/dockerfile:1
#
# Palisade container image: the `palisade` binary plus the shipped rules/ and pipelines/.
#
#   docker build -t palisade:0.1.0 .
#   docker build -t palisade:0.1.0-sasl --build-arg FEATURES=kafka-sasl .   # SASL/TLS to Kafka
#   docker run --rm -e PALISADE_BROKERS=broker:9092 palisade:0.1.0
#
# The working directory is /opt/palisade because pipeline paths (rules = "rules/detection")
# resolve from the current directory, exactly as they do from the project root.
# Tip: `target/` is large; keep it out of the build context (a .dockerignore with `target`).

# ---- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# Cargo features to build with, e.g. `kafka-sasl` (SASL + TLS) or `kafka-ssl` (TLS only).
ARG FEATURES=""

# librdkafka is compiled from source by rdkafka-sys (./configure + make; the rust image has
# the C toolchain, zlib and OpenSSL headers). SASL additionally needs the Cyrus SASL headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches

# The binary is copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --bin palisade ${FEATURES:+--features "$FEATURES"} \
    && install -m 0755 target/release/palisade /usr/local/bin/palisade

# ---- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim

ARG FEATURES=""

# ca-certificates for TLS to brokers; libssl3 and libsasl2-2 only matter for TLS/SASL builds.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && case "$FEATURES" in *sasl*) apt-get install -y --no-install-recommends libsasl2-2 ;; esac \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 palisade \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin palisade

COPY --from=builder /usr/local/bin/palisade /usr/local/bin/palisade

WORKDIR /opt/palisade
COPY rules ./rules
COPY pipelines ./pipelines

LABEL org.opencontainers.image.title="palisade" \
      org.opencontainers.image.description="Streaming security and compliance processor for LLM agent traffic on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0"

# Numeric, so Kubernetes `runAsNonRoot` can verify it (deploy/kubernetes uses the same ids).
USER 10001:10001

# `palisade run` drains in-flight events on SIGTERM (up to the pipeline's shutdown_grace):
# give it more than that before a SIGKILL (docker stop -t 45, compose stop_grace_period).
ENTRYPOINT ["palisade"]
CMD ["run", "--pipeline", "pipelines/default.toml"]
