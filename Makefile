# Docket build. `make` builds bin/docket-server; `make run` installs what is missing, builds and
# starts the server; `make test` installs, builds and runs every test; `make SANITIZER=address` builds
# and tests with ASan + UBSan in build/asan.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wno-unused-parameter -I. -MMD -MP
LDLIBS   := -levent -lxxhash -lpthread
# Lua 5.1 for scripting, from Debian: the C++ build (a Lua error unwinds C++ frames, running
# their destructors), with Debian's cjson and bitop modules linked in.
LUA_CFLAGS := $(shell pkg-config --cflags lua5.1-c++ 2>/dev/null || echo -I/usr/include/lua5.1)
CXXFLAGS += $(LUA_CFLAGS)
LDLIBS   += -llua5.1-c++ -llua5.1-cjson -llua5.1-bitop

ifeq ($(SANITIZER),address)
  BUILD    := build/asan
  CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
  SERVER   := $(BUILD)/docket-server
else
  BUILD    := build/release
  SERVER   := bin/docket-server
endif

PROTOCOL_SRC := $(wildcard protocol/*.cc)
STORAGE_SRC  := $(wildcard storage/*.cc)
SERVER_SRC   := $(filter-out server/main.cc,$(wildcard server/*.cc server/lua/*.cc))
UNIT_SRC     := $(wildcard tests/unit/*.cc tests/unit/*/*_test.cc)
INTEG_SRC    := $(wildcard tests/integration/*.cc)

obj = $(patsubst %.cc,$(BUILD)/%.o,$(1))
LIB_OBJ   := $(call obj,$(PROTOCOL_SRC) $(STORAGE_SRC) $(SERVER_SRC))
UNIT_BIN  := $(BUILD)/unit-tests
INTEG_BIN := $(BUILD)/integration-tests

DEBIAN_PKGS := libevent-dev libxxhash-dev doctest-dev libhiredis-dev redis-server redis-tools \
               python3 clang libclang-rt-14-dev clang-format \
               python3-rq liblua5.1-0-dev lua-cjson-dev lua-bitop-dev pkg-config \
               python3-celery ruby-sidekiq nodejs

.PHONY: all deps run test unit integration diff fuzz fuzz-run bench format clean tools
all: $(SERVER) tools

# Installs the Debian packages that are missing; runs apt-get update once, only when needed.
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(SERVER): $(LIB_OBJ) $(call obj,server/main.cc)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# tools/ programs: they may use protocol/ and storage/, never server/.
TOOL_OBJ := $(call obj,storage/aof_file.cc storage/aof_reader.cc)
tools: bin/docket-check-aof
bin/docket-check-aof: $(call obj,tools/docket-check-aof.cc) $(TOOL_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(LIB_OBJ)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(INTEG_BIN): $(call obj,$(INTEG_SRC))
	$(CXX) $(LDFLAGS) -o $@ $^ -lhiredis $(LDLIBS)

run: deps $(SERVER)
	./$(SERVER)

unit: $(UNIT_BIN)
	./$(UNIT_BIN)

integration: $(SERVER) $(INTEG_BIN) tools
	DOCKET_SERVER=$(abspath $(SERVER)) ./$(INTEG_BIN)

diff: $(SERVER)
	/usr/bin/python3 tests/diff/run_diff.py --docket $(abspath $(SERVER))

# The e2e suite's npm packages (BullMQ), as pinned by tests/e2e/node/package-lock.json, when
# node_modules is missing or older than the lock file (npm writes node_modules/.package-lock.json
# last, so an interrupted install is redone). npm comes from Debian's npm package, unless a nodejs
# that bundles it (NodeSource's, which conflicts with Debian's npm) is installed already.
E2E_NODE := tests/e2e/node
.PHONY: e2e e2e-deps
e2e-deps: deps
	@stamp=$(E2E_NODE)/node_modules/.package-lock.json; \
	if [ ! -f $$stamp ] || [ $(E2E_NODE)/package-lock.json -nt $$stamp ]; then \
	  if ! command -v npm >/dev/null; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; \
	  fi; \
	  echo "npm ci in $(E2E_NODE)"; \
	  cd $(E2E_NODE) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

e2e: $(SERVER) e2e-deps
	/usr/bin/python3 tests/e2e/run_e2e.py --docket $(abspath $(SERVER))

test: deps e2e-deps
	$(MAKE) -j2 $(SERVER) $(UNIT_BIN) $(INTEG_BIN)
	tests/run_suites.sh $(abspath $(SERVER)) ./$(UNIT_BIN) ./$(INTEG_BIN)

# libFuzzer target for the request parser (clang only), and a bounded run of it.
FUZZ_BIN := build/fuzz/request_parser_fuzz
fuzz: $(FUZZ_BIN)
$(FUZZ_BIN): tools/fuzz/request_parser_fuzz.cc $(PROTOCOL_SRC) $(wildcard protocol/*.h)
	@mkdir -p $(dir $@)
	clang++ -std=c++20 -g -O1 -I. -fsanitize=fuzzer,address,undefined -o $@ $(filter %.cc,$^)
fuzz-run: $(FUZZ_BIN)
	@mkdir -p build/fuzz/corpus
	./$(FUZZ_BIN) -max_total_time=$${FUZZ_SECONDS:-60} build/fuzz/corpus tools/fuzz/corpus

bench: $(SERVER)
	/usr/bin/python3 tools/bench --docket $(abspath $(SERVER))

format:
	clang-format -i $(wildcard protocol/*.h protocol/*.cc storage/*.h storage/*.cc server/*.h server/*.cc \
	  server/lua/*.h server/lua/*.cc \
	  tests/unit/*/*.cc tests/integration/*.cc tests/integration/*.h tools/fuzz/*.cc)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
