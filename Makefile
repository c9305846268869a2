# Appliance: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
BIN := out/bin
RESULTS := out/test-results
TEST_PROJECTS := tests/Appliance.Core.Tests tests/Appliance.Simulation.Tests tests/Appliance.Integration.Tests
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all deps build bin test run bench sim publish clean

all: build

deps:
	@scripts/install-deps.sh test

build: deps
	$(DOTNET) build Appliance.sln -c $(CONFIG) -v quiet -nologo

# Ahead-of-time compiled (ReadyToRun): a failover runs code that a daemon up for months has never
# run, and the JIT on that cold path cost ~15 ms of a fenced failover (dead -> active 26-31 ms
# measured without, 5-15 ms with).
R2R := -r linux-x64 -p:PublishReadyToRun=true

# The daemon, appliancectl and appliance-lab, framework-dependent, for the lab and the integration tests.
bin: deps
	$(DOTNET) publish src/Appliance.Daemon -c $(CONFIG) $(R2R) --self-contained false -o $(BIN) -v quiet -nologo
	$(DOTNET) publish src/Appliance.Ctl -c $(CONFIG) $(R2R) --self-contained false -o $(BIN) -v quiet -nologo
	$(DOTNET) publish src/Appliance.Lab -c $(CONFIG) $(R2R) --self-contained false -o $(BIN) -v quiet -nologo
	install -m 0755 board/fence/fence_appliance_gpio board/fence/fence_appliance_pdu $(BIN)/
	install -d $(BIN)/board && install -m 0644 board/*.yaml $(BIN)/board/

test: bin
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@status=0; for p in $(TEST_PROJECTS); do \
	  APPLIANCE_BIN=$(CURDIR)/$(BIN) $(DOTNET) test $$p -c $(CONFIG) -nologo \
	    --logger "trx;LogFileName=$$(basename $$p).trx" --logger "console;verbosity=normal" \
	    --results-directory $(RESULTS) || status=1; \
	done; scripts/test-summary.sh $(RESULTS) || status=1; exit $$status

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

# The self-contained, trimmed image payload for the boards.
publish: deps
	$(DOTNET) publish src/Appliance.Daemon -c Release $(R2R) --self-contained -p:PublishTrimmed=true -o out/publish
	$(DOTNET) publish src/Appliance.Ctl -c Release $(R2R) --self-contained -p:PublishTrimmed=true -o out/publish
	install -m 0755 board/fence/fence_appliance_gpio board/fence/fence_appliance_pdu out/publish/
	install -d out/publish/board && install -m 0644 board/*.yaml out/publish/board/

clean:
	rm -rf out; find src tests -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
