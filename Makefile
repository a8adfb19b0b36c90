# pelt — top-level entry points. `make demo` and `make test` work on a fresh Debian machine.
BUILD_DIR   ?= build
BUILD_TYPE  ?= Release
CMAKE_EXTRA ?=
PREFIX      ?= /usr/local
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := build-essential cmake pkg-config python3 python3-jsonschema ca-certificates openssl curl \
  libuv1-dev libluajit2-5.1-dev libssl-dev prometheus-cpp-dev libtomlplusplus-dev catch2 \
  libcli11-dev libfmt-dev nlohmann-json3-dev libhttp-parser-dev \
  nginx-light prometheus wrk docker-compose clang libclang-rt-14-dev strace \
  libprotobuf-dev protobuf-compiler libsnappy-dev influxdb python3-pytest

.PHONY: all deps build test demo bench install clean test-asan fuzz

all: build

# Installs every package the build, the tests and the demo need. Safe to run again.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else echo "all build and test packages present"; fi
	@# nginx, prometheus and influxdb are started by the tests on free ports; keep the system
	@# services off (influxdb's package enables "influxdb" and its alias "influxd").
	@-$(SUDO) systemctl disable --now nginx prometheus influxdb >/dev/null 2>&1 || true

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

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
