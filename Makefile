# Appliance: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
BIN := out/bin
RESULTS := out/test-results
TEST_PROJECTS := tests/Appliance.Core.Tests tests/Appliance.Simulation.Tests tests/Appliance.Integration.Tests
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all deps build bin test run bench sim publish image image-test clean

all: build

deps:
	@scripts/install-deps.sh test

build: deps
	$(DOTNET) build Appliance.sln -c $(CONFIG) -v quiet -nologo

# NativeAOT: one native binary per program, what the boards run (issue 10). A failover runs code that
# a daemon up for months has never run; under the JIT that cold path cost ~15 ms of a fenced failover,
# and a JIT-less binary also starts in milliseconds with a fraction of the memory. ARCH=arm64
# cross-compiles with clang, lld and Debian's arm64 cross libc (scripts/install-deps.sh arm64).
ARCH ?= x64
AOT := -r linux-$(ARCH) -p:PublishAot=true --self-contained
ifeq ($(ARCH),arm64)
AOT += -p:CppCompilerAndLinker=clang -p:LinkerFlavor=lld -p:ObjCopyName=aarch64-linux-gnu-objcopy
endif
PROGRAMS := src/Appliance.Daemon src/Appliance.Ctl src/Appliance.Lab

# The daemon, appliancectl and appliance-lab as the boards get them, for the lab and the integration tests.
bin: deps
	@[ "$(ARCH)" = x64 ] || { echo "make bin runs the lab on this machine: ARCH=x64 only (make publish ARCH=$(ARCH))" >&2; exit 2; }
	for p in $(PROGRAMS); do $(DOTNET) publish $$p -c $(CONFIG) $(AOT) -o $(BIN) -v quiet -nologo || exit 1; done
	rm -f $(BIN)/*.dbg
	install -m 0755 board/fence/fence_appliance_gpio board/fence/fence_appliance_pdu src/Appliance.Ctl/appliance-console $(BIN)/
	install -d $(BIN)/board && install -m 0644 board/*.yaml $(BIN)/board/

test: bin
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@status=0; for p in $(TEST_PROJECTS); do \
	  APPLIANCE_BIN=$(CURDIR)/$(BIN) $(DOTNET) test $$p -c $(CONFIG) -nologo \
	    --logger "trx;LogFileName=$$(basename $$p).trx" --logger "console;verbosity=normal" \
	    --results-directory $(RESULTS) || status=1; \
	done; \
	image/run-tests $(RESULTS) || status=1; \
	scripts/test-summary.sh $(RESULTS) || status=1; exit $$status

# A two-director lab on this machine with a live view of both nodes; Ctrl-C tears it down.
# Fencing is on, as on a real pair: each node can cut the other's power by relay and by PDU.
ARGS ?= --fencing required
run: bin
	@trap 'board/lab/lab down' EXIT INT TERM; APPLIANCE_BIN=$(CURDIR)/$(BIN) board/lab/lab up $(ARGS) && APPLIANCE_BIN=$(CURDIR)/$(BIN) board/lab/lab watch

bench: bin
	@scripts/install-deps.sh bench
	APPLIANCE_BIN=$(CURDIR)/$(BIN) tests/bench/run-bench.sh

# Replays one seeded simulation schedule with a readable trace: make sim SEED=n [SIM=heartbeat|arbiter]
SIM ?= heartbeat
sim: deps
	APPLIANCE_SIM_SEED=$(SEED) APPLIANCE_SIM_TRACE=1 $(DOTNET) test tests/Appliance.Simulation.Tests -c $(CONFIG) \
	  --logger "console;verbosity=detailed" \
	  --filter "Category=Replay&FullyQualifiedName~$(shell echo $(SIM) | sed 's/^./\U&/')SimulationTests"

# The image payload for the boards: applianced, appliancectl (appliance-console beside it) and the fence agents, NativeAOT for
# linux-$(ARCH) (x64 or arm64), in out/publish (x64) or out/publish-arm64. On x64 it is what `make bin`
# compiled (the same NativeAOT build), less the lab's tool and the symbols.
PUBLISH := out/publish$(if $(filter arm64,$(ARCH)),-arm64)
publish: deps
ifeq ($(ARCH),x64)
	$(MAKE) --no-print-directory bin
	rm -rf $(PUBLISH) && mkdir -p $(PUBLISH)
	cp -a $(BIN)/applianced $(BIN)/appliancectl $(BIN)/appliance-console $(BIN)/fence_appliance_gpio $(BIN)/fence_appliance_pdu $(BIN)/board $(PUBLISH)/
	cp -a $(BIN)/*.so $(PUBLISH)/ 2>/dev/null || true
else
	scripts/install-deps.sh arm64
	rm -rf $(PUBLISH)
	for p in src/Appliance.Daemon src/Appliance.Ctl; do $(DOTNET) publish $$p -c Release $(AOT) -o $(PUBLISH) -v quiet -nologo || exit 1; done
	rm -f $(PUBLISH)/*.dbg $(PUBLISH)/*.pdb
	install -m 0755 board/fence/fence_appliance_gpio board/fence/fence_appliance_pdu src/Appliance.Ctl/appliance-console $(PUBLISH)/
	install -d $(PUBLISH)/board && install -m 0644 board/*.yaml $(PUBLISH)/board/
endif
	@ls -l $(PUBLISH)

# The flashable disk image of a board (image/README.md): out/image/amd64/appliance-amd64.img{,.zst,.bmap},
# plus vmlinuz/initrd.img for direct boot. The Debian part is cached in out/image/cache.
image: publish
	@scripts/install-deps.sh image
	image/build

# Boots that image in qemu (TCG, no KVM needed): one board (image/test), then a pair (image/pair).
image-test: image
	image/test
	image/pair

clean:
	rm -rf out; find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
