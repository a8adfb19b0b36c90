# pelt — top-level entry points. `make demo` and `make test` work on a fresh Debian machine.
BUILD_DIR   ?= build
BUILD_TYPE  ?= Release
CMAKE_EXTRA ?=
PREFIX      ?= /usr/local
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := build-essential cmake pkg-config python3 python3-jsonschema python3-pytest python3-h2 ca-certificates openssl curl \
  libuv1-dev libluajit2-5.1-dev libssl-dev prometheus-cpp-dev libtomlplusplus-dev catch2 \
  libfmt-dev nlohmann-json3-dev libhttp-parser-dev libnghttp2-dev nghttp2-client \
  nginx-light prometheus prometheus-node-exporter wrk docker-compose clang libclang-rt-14-dev strace \
  nodejs npm chromium libxml2-utils libprotobuf-dev protobuf-compiler libsnappy-dev influxdb \
  kubernetes-client python3-kubernetes python3-yaml iproute2

.PHONY: all deps build test demo bench install clean test-asan fuzz report-screenshot

all: build

# Installs every package the build, the tests and the demo need, then the chart library the
# HTML report embeds (web/package-lock.json pins it). Safe to run again.
deps:
	@# A nodejs package that bundles npm (NodeSource's) provides npm without the Debian package.
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || \
	  { [ "$$p" = npm ] && command -v npm >/dev/null; } || \
	  { [ "$$p" = kubernetes-client ] && command -v kubectl >/dev/null; } || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else echo "all build and test packages present"; fi
	@# nginx, prometheus, node-exporter and influxdb are started by the tests on free ports; keep the system
	@# services off (influxdb's package enables "influxdb" and its alias "influxd").
	@-$(SUDO) systemctl disable --now nginx prometheus prometheus-node-exporter influxdb >/dev/null 2>&1 || true
	@# npm ci runs again only when the lock file changed; playwright-core never fetches a browser.
	@if cmp -s web/package-lock.json web/node_modules/.pelt-installed-lock.json; then \
	  echo "web/node_modules matches web/package-lock.json"; \
	else \
	  cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && \
	  cp package-lock.json node_modules/.pelt-installed-lock.json; \
	fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_EXTRA)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Starts the bundled target on loopback, runs a short load against it, prints the summary.
demo: deps build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: deps build
	@bash bench/run.sh $(BUILD_DIR)

install: build
	cmake --install $(BUILD_DIR)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_EXTRA=-DPELT_SANITIZE=ON

# Every libFuzzer target for FUZZ_SECONDS each (default 60); crashes land in fuzz/crashes/.
fuzz: deps
	bash fuzz/run.sh

# docs/report.png: the HTML report of a sample document at laptop size, in headless chromium.
# docs/report.png from the report of the demo's ramp (scripts/report-screenshot.sh).
report-screenshot: deps build
	@bash scripts/report-screenshot.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
