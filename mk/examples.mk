# The examples, built and run; included by the Makefile.

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(sort $(wildcard examples/*.c)))
$(B)/examples/%: examples/%.c kchan.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LDLIBS)
examples: $(EXAMPLES)
run-examples: examples
	@for x in $(EXAMPLES); do echo "== $$x"; $$x > $$x.out 2>&1 || { cat $$x.out; echo "$$x failed"; exit 1; }; tail -n 3 $$x.out; done

# make demo-shm: frames between processes (a writer and two readers, about 2 s).
demo-shm:
	@$(DEPS) $(DEMO_PKGS)
	@$(MAKE) --no-print-directory run-demo-shm
run-demo-shm: $(B)/examples/07_shm_frames
	$(B)/examples/07_shm_frames
.PHONY: demo-shm run-demo-shm
