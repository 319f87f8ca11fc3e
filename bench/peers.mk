# kchan against crossbeam-channel and Go channels, the plot, and the instruction counts.
# Included by the Makefile (before BENCH_ENGINES / BENCH_OBJS are set, so those are only
# used inside recipes, where they are expanded late).
#
#   make bench-peers   build kchan_bench + bench/peers/{crossbeam,go}, run W1–W13 on every
#                      engine (bench/run_peers.sh), print one table (speed, CPU and context
#                      switches per million messages), save build/bench/peers.json
#                      BENCH_REPS=5 (repetitions)  BENCH_PEERS_FLAGS=--quick (or --only W1,W5)
#   make bench-plot    bench/results.png from build/bench/peers.json (runs bench-peers if missing):
#                      speed on top, CPU per message below
#   make bench-instr   instructions per try_send+try_recv and per send+recv pair (callgrind)
#
# Nothing is installed from here: a missing tool stops the build naming its Debian package.

BENCH_REPS        ?= 5
BENCH_PEERS_FLAGS ?=
INSTR_N           ?= 1000000
CROSSBEAM_REGISTRY := /usr/share/cargo/registry

# $(call bench_need,command,debian-package)
bench_need = command -v $(1) >/dev/null 2>&1 || { echo "$@: '$(1)' not found: install the Debian package $(2) (apt-get install $(2))" >&2; exit 1; }

.PHONY: bench-peers bench-peers-build bench-plot bench-instr

# The limit engine is a header kchan_bench.c includes (so BENCH_OBJS stays as it is): a
# prerequisite added here, the recipe stays the Makefile's.
$(B)/bench/kchan_bench: bench/limit_ring.h

# ---- the peers -----------------------------------------------------------------------------
# crossbeam: cargo, offline, against the crates Debian ships (bench/peers/crossbeam/.cargo/config.toml
# points crates-io at $(CROSSBEAM_REGISTRY)); cargo reads that config from the working directory.
$(B)/bench/crossbeam_bench: bench/peers/crossbeam/src/main.rs bench/peers/crossbeam/Cargo.toml bench/peers/crossbeam/.cargo/config.toml
	@$(call bench_need,cargo,cargo)
	@ls -d $(CROSSBEAM_REGISTRY)/crossbeam-channel-*/ >/dev/null 2>&1 || { \
	    echo "$@: crossbeam-channel is not in $(CROSSBEAM_REGISTRY): install the Debian package librust-crossbeam-channel-dev (apt-get install librust-crossbeam-channel-dev)" >&2; exit 1; }
	@mkdir -p $(@D)
	cd bench/peers/crossbeam && CARGO_TARGET_DIR=$(abspath $(B))/bench/cargo cargo build --release --offline --quiet
	cp $(B)/bench/cargo/release/crossbeam_bench $@

# Go: the standard library only; GOPROXY=off so that nothing can be fetched.
$(B)/bench/gobench: bench/peers/go/main.go bench/peers/go/go.mod
	@$(call bench_need,go,golang-go)
	@mkdir -p $(@D)
	cd bench/peers/go && GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GOCACHE=$${GOCACHE:-$(abspath $(B))/bench/gocache} \
	    go build -o $(abspath $@) .

bench-peers-build: $(B)/bench/kchan_bench $(B)/bench/crossbeam_bench $(B)/bench/gobench

bench-peers: bench-peers-build
	@$(call bench_need,python3,python3)
	BENCH_PEERS_NOBUILD=1 B=$(B) MAKE="$(MAKE)" sh bench/run_peers.sh --reps $(BENCH_REPS) $(BENCH_PEERS_FLAGS)

# ---- the plot ------------------------------------------------------------------------------
$(B)/bench/peers.json:
	$(MAKE) --no-print-directory bench-peers

bench-plot: $(B)/bench/peers.json bench/plot.gp bench/peers/merge.py
	@$(call bench_need,gnuplot,gnuplot-nox)
	@$(call bench_need,python3,python3)
	python3 bench/peers/merge.py plotdata $(B)/bench/peers.json $(B)/bench/plot_stream.dat \
	    $(B)/bench/plot_pingpong.dat $(B)/bench/plot_engines.txt $(B)/bench/plot_cpu.dat
	gnuplot -e "dir='$(B)/bench'; out='bench/results.png'" bench/plot.gp
	@echo "bench-plot: wrote bench/results.png"

# ---- instructions per pair ------------------------------------------------------------------
# instr links the engine objects kchan_bench links ($(BENCH_OBJS), all rebuilt with it).
$(B)/bench/instr: bench/instr.c bench/bench.h $(B)/bench/kchan_bench
	$(CC) $(WARN) -O2 -g -D_GNU_SOURCE '-DINSTR_ENGINES=$(foreach e,$(BENCH_ENGINES),X($(e)))' \
	    bench/instr.c $(BENCH_OBJS) -o $@ $(LDLIBS)

bench-instr: $(B)/bench/instr
	@$(call bench_need,valgrind,valgrind)
	@echo "bench-instr: instructions per pair on a bounded-1024 channel, single-threaded, $(INSTR_N) pairs"
	@echo "             (valgrind --tool=callgrind --toggle-collect=measure; deterministic)"
	@printf '%-16s %20s %20s\n' engine "try_send+try_recv" "send+recv"
	@for e in $$($(B)/bench/instr --list); do \
	    line=$$(printf '%-16s' "$$e"); \
	    for m in try send; do \
	        out=$(B)/bench/callgrind.$$e.$$m.out; \
	        valgrind --tool=callgrind --toggle-collect=measure --callgrind-out-file=$$out \
	            $(B)/bench/instr $$e $$m $(INSTR_N) > $$out.log 2>&1 || { cat $$out.log; echo "bench-instr: $$e $$m failed" >&2; exit 1; }; \
	        ir=$$(awk '/^(totals|summary):/ { print $$2; exit }' $$out); \
	        [ -n "$$ir" ] || { echo "bench-instr: no instruction count in $$out" >&2; exit 1; }; \
	        line="$$line $$(awk -v ir=$$ir -v n=$(INSTR_N) 'BEGIN { printf "%20.1f", ir / n }')"; \
	    done; \
	    echo "$$line"; \
	done
	@echo "call-overhead = the loop + two indirect calls per pair; subtract it for the channel alone."
