# Compile-only checks, lint, the API-name check and install/install-check; included by
# the Makefile.

# ---- compile-only checks ----------------------------------------------------------------
# C and C++ inclusion, KCHAN_STATIC warning-free with both compilers, and a file mixing two
# channel types must be rejected (its control twin, with matching types, must compile).
# stb_ds.h itself trips -Wundef (#if __clang__), so files that include it drop that flag;
# the before-file includes system headers ahead of kchan.h, hence -D_DEFAULT_SOURCE.
# C++ users' view of the header: no cast, null or useless-cast warnings from kchan's macros.
CXX_WARN := -std=c++17 -Wall -Wextra -Wpedantic -Werror -Wold-style-cast -Wzero-as-null-pointer-constant -Wuseless-cast
STB_WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Werror $(STB_INC)
compile-checks: kchan.h
	@mkdir -p $(B)
	$(CC) $(WARN) $(STB_INC) -c tests/compile_c.c -o $(B)/compile_c.o
	$(CXX) $(CXX_WARN) -c tests/compile_cpp.cpp -o $(B)/compile_cpp.o
	clang++ $(filter-out -Wuseless-cast,$(CXX_WARN)) -c tests/compile_cpp.cpp -o $(B)/compile_cpp_clang.o
	$(CC) $(WARN) $(STB_INC) tests/compile_cpp_impl.c $(B)/compile_cpp.o -o $(B)/compile_cpp $(LDLIBS) && $(B)/compile_cpp
	@# the implementation compiled as C++: C++23 builds and runs; C++17 stops with kchan's #error
	for cxx in g++ clang++; do \
	    $$cxx -std=c++2b -Wall -Wextra -Wpedantic -Werror $(STB_INC) -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx.o && \
	    $$cxx -std=c++2b -Wall -Wextra -Wpedantic -Werror $(STB_INC) -DKCHAN_LOCKFREE -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx_lf.o && \
	    $$cxx $(B)/compile_cpp_impl_cxx.o $(B)/compile_cpp.o -o $(B)/compile_cpp_cxx $(LDLIBS) && $(B)/compile_cpp_cxx && \
	    $$cxx $(B)/compile_cpp_impl_cxx_lf.o $(B)/compile_cpp.o -o $(B)/compile_cpp_cxx $(LDLIBS) && $(B)/compile_cpp_cxx || exit 1; \
	    if $$cxx -std=c++17 $(STB_INC) -x c++ -c tests/compile_cpp_impl.c -o $(B)/compile_cpp_impl_cxx.o 2> $(B)/cxx17.err || \
	       ! grep -q 'needs C++23' $(B)/cxx17.err; then echo "$$cxx -std=c++17: no clear error for the C++ implementation"; exit 1; fi; done
	for cc in gcc clang; do $$cc $(WARN) $(STB_INC) -c tests/compile_static.c -o $(B)/compile_static.o || exit 1; done
	@# KCHAN_FOOTPRINT from a file without the engine flag fits either engine's implementation
	for e in "" -DKCHAN_LOCKFREE; do \
	    $(CC) $(WARN) $(STB_INC) $$e -c tests/compile_cpp_impl.c -o $(B)/footprint_impl.o && \
	    $(CC) $(WARN) $(STB_INC) tests/footprint_user.c $(B)/footprint_impl.o -o $(B)/footprint_user $(LDLIBS) && \
	    $(B)/footprint_user || exit 1; done
	@# _NONE with <stdatomic.h> before kchan.h, after it, or not at all: same names, same behaviour
	for order in -DSTDATOMIC_FIRST -DSTDATOMIC_AFTER -DNO_STDATOMIC; do \
	    $(CC) $(WARN) $(STB_INC) $$order tests/compile_none_atomics.c -o $(B)/compile_none_atomics && $(B)/compile_none_atomics || exit 1; done
	$(CC) $(WARN) $(STB_INC) -DKCHAN_TYPES_MATCH -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o
	@if $(CC) $(WARN) $(STB_INC) -c tests/compile_fail_types.c -o $(B)/compile_fail_types.o 2>/dev/null; then \
	    echo "compile_fail_types.c compiled: mixing two channel types was not diagnosed"; exit 1; \
	 else echo "ok: mixing two channel types is a compile error"; fi
	for e in -UKCHAN_LOCKFREE -DKCHAN_LOCKFREE; do $(CC) $(WARN) $(STB_INC) $$e -DKCHAN_SELECT_MAX=256 tests/compile_select_max.c \
	    -o $(B)/compile_select_max $(LDLIBS) && $(B)/compile_select_max || exit 1; done
	@if $(CC) $(WARN) $(STB_INC) -c tests/compile_select_max.c -o $(B)/select_max.o 2> $(B)/select_max.err; then \
	    echo "KCHAN_SELECT_MAX=257 compiled: the bound is not enforced"; exit 1; \
	 elif grep -q 'KCHAN_SELECT_MAX must be between 1 and 256' $(B)/select_max.err; then \
	    echo "ok: KCHAN_SELECT_MAX above 256 is a compile error"; else cat $(B)/select_max.err; exit 1; fi
	@# kchan.h copied alone next to main.c, built with no -I: finds Debian's <stb/stb_ds.h> itself
	@rm -rf $(B)/alone && mkdir -p $(B)/alone && cp kchan.h $(B)/alone/ && cp tests/compile_alone.c $(B)/alone/main.c
	@if echo '#include <stb/stb_ds.h>' | $(CC) -xc -E - >/dev/null 2>&1; then \
	    for cc in gcc clang; do echo "(cd $(B)/alone && $$cc -std=c11 -Wall -Wextra -Wpedantic -Werror main.c -lpthread)"; \
	        (cd $(B)/alone && $$cc -std=c11 -Wall -Wextra -Wpedantic -Werror main.c -o alone -lpthread && ./alone) || exit 1; done; \
	 else echo "skip the copy-one-file build: no <stb/stb_ds.h> (Debian package libstb-dev)"; fi
	for cc in gcc clang; do sh tests/compile_no_stb.sh $$cc $(B) || exit 1; done
	for cc in gcc clang; do sh tests/compile_stb_macros.sh $$cc $(B) "$(STB_INC)" || exit 1; done
	@# the user's own stb_ds.h after kchan.h (implementation file and plain file) and before it
	for cc in gcc clang; do \
	    $$cc $(STB_WARN) -c tests/compile_stb_after.c -o $(B)/compile_stb_after.o && \
	    $$cc $(STB_WARN) tests/compile_stb_user.c $(B)/compile_stb_after.o -o $(B)/compile_stb_user $(LDLIBS) && $(B)/compile_stb_user && \
	    $$cc $(STB_WARN) -D_DEFAULT_SOURCE -DSTB_DS_IMPLEMENTATION tests/compile_stb_before.c -o $(B)/compile_stb_before $(LDLIBS) && $(B)/compile_stb_before && \
	    $$cc $(STB_WARN) -D_DEFAULT_SOURCE tests/compile_stb_before.c $(B)/compile_stb_after.o -o $(B)/compile_stb_before $(LDLIBS) && $(B)/compile_stb_before || exit 1; done
	@# (void) discards a result everywhere; a dropped result warns wherever the attribute is on
	@for c in "gcc -std=c11" "gcc -std=c2x" "clang -std=c11" "clang -std=c2x" "g++ -std=c++17" "g++ -std=c++20" \
	          "clang++ -std=c++17" "clang++ -std=c++20"; do x=; case $$c in *++*) x="-x c++";; esac; \
	    $$c $$x -Wall -Wextra -Wpedantic -Werror -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o || \
	        { echo "$$c: (void) did not discard a kchan result warning-free"; exit 1; }; \
	    $$c $$x -Wall -Wextra -Wpedantic -Werror -DKCHAN_NO_NODISCARD -DKCHAN_DROP_RESULT -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o || \
	        { echo "$$c: KCHAN_NO_NODISCARD did not turn the attribute off"; exit 1; }; \
	    if [ "$$c" = "gcc -std=c11" ]; then continue; fi; \
	    if $$c $$x -Wall -Wextra -Wpedantic -Werror -DKCHAN_DROP_RESULT -c tests/compile_nodiscard.c -o $(B)/compile_nodiscard.o 2>/dev/null; then \
	        echo "$$c: a dropped kchan result did not warn"; exit 1; fi; done; \
	 echo "ok: (void) discards kchan results in C11, C2x, C++17, C++20 (gcc, clang); dropping one warns (all but gcc C11); KCHAN_NO_NODISCARD silences"


lint: kchan.h
	@awk '/memory_order_/ && !/^ *#/ { ok = 0; for (i = 1; i <= 3; i++) if (prev[i] ~ /\/\*|\/\/|\*\// ) ok = 1; \
	        if ($$0 ~ /\/\*|\/\/|\*\//) ok = 1; if (!ok) { printf "kchan.h:%d: memory_order without a comment above\n", NR; bad = 1 } } \
	      { prev[3] = prev[2]; prev[2] = prev[1]; prev[1] = $$0 } END { exit bad }' kchan.h
	@echo "lint: every memory_order_ has its reason"
	@awk '/\/\/ >>/ && !/^\/\/ >>[a-z_0-9]+/ { printf "kchan.h:%d: // >> marks section lines only (grep -n \"^// >>\" lists the sections)\n", NR; bad = 1 } END { exit bad }' kchan.h
	@echo "lint: // >> appears only on section lines"


# ---- docs: every public name of kchan.h appears in docs/API.md (issue 17) ------------------
.PHONY: api-names
api-names: tests/check_api_names.sh kchan.h docs/API.md
	sh tests/check_api_names.sh kchan.h docs/API.md

# ---- install: the header and a pkg-config file -------------------------------------------
# The version comes from kchan.h: KCHAN_VERSION_MAJOR/MINOR/PATCH if it defines them, else the
# "vX.Y" on its first line. kchan.pc pulls in stb's include dir (kchan.h includes stb_ds.h for
# unlimited channels) through Requires.private when the system has stb.pc (Debian does), so
# `pkg-config --cflags kchan` gives it without `--libs` adding stb's unrelated -lstb;
# otherwise the stb dir found at install time goes into Cflags.
PREFIX     ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig
version_part = $(shell sed -n 's/^[ \t]*[#][ \t]*define[ \t][ \t]*KCHAN_VERSION_$(1)[ \t][^0-9]*\([0-9][0-9]*\).*/\1/p' kchan.h | head -n 1)
version_mmp = $(if $(and $(1),$(2),$(3)),$(1).$(2).$(3))
KCHAN_VERSION = $(or $(call version_mmp,$(call version_part,MAJOR),$(call version_part,MINOR),$(call version_part,PATCH)),$(shell sed -n '1s/.*[ \t]v\([0-9][0-9.]*\).*/\1/p' kchan.h))
HAVE_STB_PC = $(shell pkg-config --exists stb 2>/dev/null && echo yes)
.PHONY: install uninstall install-check
install: kchan.h kchan.pc.in
	@test -n "$(KCHAN_VERSION)" || { echo "install: no version found in kchan.h"; exit 1; }
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 kchan.h $(DESTDIR)$(INCLUDEDIR)/kchan.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(if $(filter $(PREFIX)/include,$(INCLUDEDIR)),$${prefix}/include,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(KCHAN_VERSION)|' \
	    -e 's|@STB_REQUIRES@|$(if $(HAVE_STB_PC),Requires.private: stb)|' \
	    -e 's|@STB_CFLAGS@|$(if $(HAVE_STB_PC),, $(STB_INC))|' kchan.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/kchan.h $(DESTDIR)$(PKGCONFIGDIR)/kchan.pc

# make test's packaging check: a DESTDIR install lands under DESTDIR with the real prefix in
# kchan.pc, and uninstall takes it back; an install into a scratch PREFIX compiles and runs
# tests/install_check.c (an unlimited channel, so stb_ds is needed) with nothing but
# `pkg-config --cflags --libs kchan` pointed at that kchan.pc.
IC := $(abspath $(B))/install-check
install-check: tests/install_check.c
	@rm -rf $(IC) && mkdir -p $(IC)
	@$(MAKE) --no-print-directory install DESTDIR=$(IC)/stage PREFIX=/usr/local INCLUDEDIR=/usr/local/include PKGCONFIGDIR=/usr/local/share/pkgconfig >/dev/null
	@test -f $(IC)/stage/usr/local/include/kchan.h && test -f $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: DESTDIR install put nothing under $(IC)/stage/usr/local"; exit 1; }
	@grep -qx 'prefix=/usr/local' $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: kchan.pc must name PREFIX, not DESTDIR"; exit 1; }
	@$(MAKE) --no-print-directory uninstall DESTDIR=$(IC)/stage PREFIX=/usr/local INCLUDEDIR=/usr/local/include PKGCONFIGDIR=/usr/local/share/pkgconfig >/dev/null
	@! test -e $(IC)/stage/usr/local/include/kchan.h && ! test -e $(IC)/stage/usr/local/share/pkgconfig/kchan.pc || \
	    { echo "install-check: uninstall left files behind"; exit 1; }
	@$(MAKE) --no-print-directory install DESTDIR= PREFIX=$(IC)/prefix INCLUDEDIR=$(IC)/prefix/include PKGCONFIGDIR=$(IC)/prefix/share/pkgconfig >/dev/null
	@flags=$$(PKG_CONFIG_PATH=$(IC)/prefix/share/pkgconfig pkg-config --cflags --libs kchan) || exit 1; \
	 ver=$$(PKG_CONFIG_PATH=$(IC)/prefix/share/pkgconfig pkg-config --modversion kchan); \
	 echo "install-check: kchan $$ver: cc tests/install_check.c $$flags"; \
	 cp tests/install_check.c $(IC)/main.c && cd $(IC) && \
	 $(CC) $(WARN) -O1 main.c -o main $$flags && ./main
