# gort: build, test, install, bench.  See README.md.
#   make                 release build of libgort.a, libgort.so, libgort-malloc.so
#   make test            all tests: release, ASan+UBSan, TSan (threaded tests)
#   make bench           gort side by side with its peers (BENCH=quick|default|long, THREADS=n)
#   make install PREFIX=/usr/local
#   make MODE=debug|asan|tsan  other builds, into build/$(MODE)

MODE     ?= release
PREFIX   ?= /usr/local
CC       ?= cc
PYTHON   ?= python3
BUILD    ?= build/$(MODE)$(if $(filter-out cc gcc,$(notdir $(CC))),-$(notdir $(CC)))

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASEFLAGS:= -std=gnu11 -fPIC -pthread -fvisibility=hidden -Iinclude -Isrc $(WARN) -g
ifeq ($(MODE),release)
  MODEFLAGS := -O2 -DNDEBUG -fno-plt
else ifeq ($(MODE),debug)
  MODEFLAGS := -O0 -DGORT_DEBUG=2
else ifeq ($(MODE),asan)
  MODEFLAGS := -O1 -DGORT_DEBUG=2 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(MODE),tsan)
  MODEFLAGS := -O1 -DGORT_DEBUG=1 -fsanitize=thread
else
  $(error unknown MODE=$(MODE): use release, debug, asan or tsan)
endif
CFLAGS_ALL := $(BASEFLAGS) $(MODEFLAGS) $(CFLAGS)
LDLIBS_ALL := -pthread -ldl -lm

CORE_SRCS := $(filter-out src/preload.c,$(wildcard src/*.c))
CORE_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
PRELOAD_OBJ := $(BUILD)/obj/preload.o
# Each object and test records the headers it includes (-MMD -MP: build/<mode>/**/*.d), so
# that a header's change rebuilds exactly what includes it; a missing .d (a build from before)
# rebuilds its target.
DEPFLAGS  := -MMD -MP

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

LIBS := $(BUILD)/libgort.a $(BUILD)/libgort.so $(BUILD)/libgort-malloc.so

.PHONY: all libs tests test test-release test-asan test-tsan install bench clean sizeclasses check-sizeclasses check-portable format check-format
all: libs
libs: $(LIBS)

$(BUILD)/obj/%.o: src/%.c $(BUILD)/obj/%.d | $(BUILD)/obj
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@
$(BUILD)/obj/%.d $(BUILD)/tests/%.d $(BUILD)/examples/%.d: ;
.PRECIOUS: $(BUILD)/obj/%.d $(BUILD)/tests/%.d $(BUILD)/examples/%.d

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/libgort.a: $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libgort.so: $(CORE_OBJS)
	$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libgort.so -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libgort-malloc.so: $(CORE_OBJS) $(PRELOAD_OBJ)
	$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libgort-malloc.so -o $@ $^ $(LDLIBS_ALL)

# Tests link the static library: white-box tests may include src/internal.h.
$(BUILD)/tests/%: tests/%.c $(BUILD)/tests/%.d $(BUILD)/libgort.a | $(BUILD)/tests
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -Itests $< -o $@ $(BUILD)/libgort.a $(LDLIBS_ALL)

# test_gc_dlopen loads tests/lib_gc_dlopen.c as a shared library (its statics must be roots);
# the test finds it next to its own binary.
$(BUILD)/tests/lib_gc_dlopen.so: tests/lib_gc_dlopen.c | $(BUILD)/tests
	$(CC) $(CFLAGS_ALL) -shared -o $@ $<
$(BUILD)/tests/test_gc_dlopen: $(BUILD)/tests/lib_gc_dlopen.so

EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
$(BUILD)/examples/%: examples/%.c $(BUILD)/examples/%.d $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $< -o $@ $(BUILD)/libgort.a $(LDLIBS_ALL)

tests: libs $(TEST_BINS) $(EXAMPLE_BINS)

# One mode's tests (MODE=...); tests/run.sh prints the closing "N passed, N failed" line.
test-one: tests
	bash tests/run.sh $(MODE) $(BUILD)

# The README's test command: every test in release, ASan+UBSan, and TSan builds.
test:
	$(MAKE) -s --no-print-directory MODE=release tests
	$(MAKE) -s --no-print-directory MODE=asan tests
	$(MAKE) -s --no-print-directory MODE=tsan tests
	bash tests/run.sh all

sizeclasses:
	$(PYTHON) tools/mksizeclasses.py > src/sizeclasses.h
check-sizeclasses:
	$(PYTHON) tools/mksizeclasses.py | diff -u src/sizeclasses.h -

# The C sources' layout is .clang-format's (clang-format 14, Debian 12's);
# src/sizeclasses.h is generated and left as tools/mksizeclasses.py writes it.
CLANG_FORMAT ?= clang-format
FORMAT_FILES = $(filter-out src/sizeclasses.h,$(wildcard src/*.[ch] include/*.h include/gort/*.h \
    include/gort/internal/*.h tests/*.[ch] examples/*.[ch] bench/*.[ch] bench/*/*.[ch] bench/*/*/*.[ch]))
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)
check-format:
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) && echo "check-format: ok"

# Warnings are errors with clang on x86-64, and every source compiles for
# aarch64 (needs clang and Debian's libc6-dev-arm64-cross).
check-portable:
	$(MAKE) -s --no-print-directory CC=clang CFLAGS=-Werror BUILD=build/check-clang libs
	@for f in $(wildcard src/*.c); do \
	  clang --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include \
	    $(BASEFLAGS) -O2 -Werror -c -o /dev/null $$f || exit 1; done; echo "check-portable: ok"

install: libs
	install -d $(DESTDIR)$(PREFIX)/include/gort/internal $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/gort.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/gort/*.h $(DESTDIR)$(PREFIX)/include/gort/
	install -m 644 include/gort/internal/*.h $(DESTDIR)$(PREFIX)/include/gort/internal/
	install -m 644 $(BUILD)/libgort.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libgort.so $(BUILD)/libgort-malloc.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' gort.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/gort.pc

bench:
	@if [ -x bench/run.sh ]; then bash bench/run.sh; else echo "bench: not built yet"; fi

clean:
	rm -rf build

-include $(CORE_OBJS:.o=.d) $(PRELOAD_OBJ:.o=.d) $(TEST_BINS:=.d) $(EXAMPLE_BINS:=.d)
