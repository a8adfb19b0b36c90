# pelt and pelt-target on Debian bookworm.
#   docker build -t pelt:local .
#   docker run --rm --network host pelt:local pelt -t2 -c50 -d10s http://127.0.0.1:8080/

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libuv1-dev libluajit2-5.1-dev libssl-dev prometheus-cpp-dev libtomlplusplus-dev \
      libfmt-dev nlohmann-json3-dev libhttp-parser-dev libnghttp2-dev nodejs npm \
      libprotobuf-dev protobuf-compiler libsnappy-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The chart library the HTML report and dashboard embed (pinned by web/package-lock.json).
RUN cd web && npm ci --omit=dev --no-audit --no-fund
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPELT_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j 2 \
 && DESTDIR=/out cmake --install /build

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libuv1 libluajit2-5.1-2 libssl3 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libtomlplusplus3 libfmt9 libhttp-parser2.9 libnghttp2-14 \
      libprotobuf-lite32 libsnappy1v5 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin pelt
COPY --from=build /out/usr/local/ /usr/local/
COPY lua/ /usr/local/share/pelt/lua/
COPY scenarios/ /usr/local/share/pelt/scenarios/
WORKDIR /usr/local/share/pelt
USER pelt
EXPOSE 8080 9464
CMD ["pelt", "--help"]
