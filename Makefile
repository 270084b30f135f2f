# ml: a machine-learning research toolkit in C.  See README.md.
#
#   make            build lib/libml.so, lib/libml.a and the programs
#   make test       every test (C unit tests, Bats); ends with `tests: N passed, N failed`
#   make bench      benchmarks against OpenBLAS and PyTorch
#   make man        regenerate man/man5/ml-experiment.5 from the component tables
#   make lint-man   check every manual page with mandoc (and groff)
#   make CUDA=0     build without the CUDA backend even when nvcc is found
#   make DEBUG=1    -O0 -g with AddressSanitizer and UBSan

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := openblas hdf5-serial yaml-0.1 zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lhdf5_serial_hl

ifeq ($(DEBUG),1)
OPT := -O0 -g -fsanitize=address,undefined -fno-omit-frame-pointer
else
OPT := -O3 -march=x86-64-v3 -mtune=native -g
endif
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) -Ilib $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm -lpthread $(LDLIBS)

NVCC ?= nvcc
ifeq ($(origin CUDA),undefined)
CUDA := $(if $(and $(shell command -v $(NVCC) 2>/dev/null),$(wildcard lib/backend/cuda/*.cu)),1,0)
endif
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))

LIB_SRC := $(wildcard lib/core/*.c lib/tensor/*.c lib/backend/*.c lib/backend/cpu/*.c \
                      lib/graph/*.c lib/io/*.c lib/space/*.c lib/data/*.c lib/model/*.c \
                      lib/train/*.c lib/config/*.c)
LIB_OBJ := $(LIB_SRC:.c=.o)
ifeq ($(CUDA),1)
CU_SRC := $(wildcard lib/backend/cuda/*.cu)
LIB_OBJ += $(CU_SRC:.cu=.o)
CFLAGS_ALL += -DML_WITH_CUDA -I$(CUDA_HOME)/include
# -lstdc++: nvcc's host stubs for kernels use C++ static guards and unwinding.
LDLIBS_ALL += -L$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++ -Wl,-rpath,$(CUDA_HOME)/lib64
endif

CMD_SRC := $(wildcard cmd/ml-*.c)
CMDS := $(CMD_SRC:.c=)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS := $(UNIT_SRC:.c=)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCHES := $(BENCH_SRC:.c=)
HEADERS := $(wildcard lib/*.h lib/*/*.h lib/*/*/*.h)

.PHONY: all lib cmd test unit bats man lint-man bench demo install uninstall clean
all: lib cmd

lib: lib/libml.so lib/libml.a

lib/libml.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

lib/libml.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(OPT) $(LDLIBS_ALL)

# Objects depend on whether CUDA is on (-DML_WITH_CUDA): a stamp per setting,
# the other's removed, so switching rebuilds everything.
BUILD_STAMP := lib/.build-cuda$(CUDA)
$(BUILD_STAMP):
	rm -f lib/.build-cuda*
	touch $@

lib/%.o: lib/%.c $(HEADERS) $(BUILD_STAMP)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

lib/backend/cuda/%.o: lib/backend/cuda/%.cu $(HEADERS)
	$(NVCC) -O3 $(CUDA_ARCH) -Xcompiler -fPIC,-Wall -Ilib -DML_WITH_CUDA -c -o $@ $<

cmd: $(CMDS)
cmd/ml-%: cmd/ml-%.c cmd/cli.c cmd/cli.h lib/libml.a $(HEADERS)
	$(CC) $(CFLAGS_ALL) -o $@ $< cmd/cli.c lib/libml.a $(LDLIBS_ALL)

tests/unit/test_%: tests/unit/test_%.c tests/unit/harness.h tests/unit/host_tensors.h tests/unit/scratch.h lib/libml.a $(HEADERS)
	$(CC) $(CFLAGS_ALL) -o $@ $< lib/libml.a $(LDLIBS_ALL)

bench/bench_%: bench/bench_%.c lib/libml.a $(HEADERS)
	$(CC) $(CFLAGS_ALL) -o $@ $< lib/libml.a $(LDLIBS_ALL)

# ml-experiment(5) lists every component and parameter from the one table in
# lib/config/components.c: tools/ml-reference prints it (ml_cfg_print_reference)
# in place of the line @COMPONENTS@ of the template.  The page is checked in;
# `make man` regenerates it and tests/man.bats checks that it is up to date.
tools/ml-reference: tools/ml-reference.c lib/libml.a $(HEADERS)
	$(CC) $(CFLAGS_ALL) -o $@ $< lib/libml.a $(LDLIBS_ALL)

man/man5/ml-experiment.5: man/man5/ml-experiment.5.in tools/ml-reference
	./tools/ml-reference > $@.components
	awk -v ref=$@.components '$$0 == "@COMPONENTS@" { while ((getline line < ref) > 0) print line; next } { print }' \
	    $< > $@.tmp
	rm -f $@.components
	mv $@.tmp $@

man: man/man5/ml-experiment.5

# Every test's TAP output goes to tests/out/; tests/summarize counts it.
test: all $(UNITS) tools/ml-reference
	@rm -rf tests/out && mkdir -p tests/out
	@status=0; for t in $(UNITS); do \
	    n=$$(basename $$t); \
	    ML_THREADS=2 ./$$t > tests/out/$$n.tap 2>tests/out/$$n.err || status=1; \
	    grep -E '^(not ok|# SKIP)' tests/out/$$n.tap | sed "s/^/$$n: /"; \
	  done; \
	if ls tests/*.bats >/dev/null 2>&1; then \
	    bats --tap tests/*.bats > tests/out/bats.tap 2>&1 || status=1; \
	    grep -E '^not ok' -A3 tests/out/bats.tap; \
	fi; \
	sh tests/summarize tests/out; exit $$status

bench: all $(BENCHES)
	@for b in $(BENCHES); do ./$$b || exit 1; done
	@if [ -x bench/stream ]; then bench/stream; fi
	@if [ -x bench/checkpoint ]; then bench/checkpoint; fi
	@if [ -x bench/run-peers ]; then bench/run-peers; fi

# The README's first command: the Fashion-MNIST pipeline for softmax regression
# and the MLP (examples/fashion-mnist/Makefile), then where its results are.
DEMO_DIR := examples/fashion-mnist
demo: all
	$(MAKE) -C $(DEMO_DIR) MODELS="softmax_regression mlp"
	@echo
	@for m in softmax_regression mlp; do \
	    printf '%-20s test accuracy %s\n' $$m "$$(awk '$$1 == "accuracy" {print $$2}' $(DEMO_DIR)/out/$$m.eval)"; \
	done
	@echo "reports:  $(DEMO_DIR)/out/*.eval"
	@echo "curves:   $(DEMO_DIR)/out/*-curves.png"
	@echo "weights:  $(DEMO_DIR)/out/*-weights.png"

# Quiet when the pages are clean: any mandoc message of level WARNING or
# above (or groff warning, where groff is installed) fails.
lint-man:
	@status=0; for m in man/man*/*.[1-9]; do \
	    out=$$(mandoc -T lint -W warning $$m 2>&1) || status=1; \
	    if [ -n "$$out" ]; then echo "$$out"; status=1; fi; \
	    if command -v groff >/dev/null; then \
	        out=$$(groff -mandoc -ww -z $$m 2>&1) || status=1; \
	        if [ -n "$$out" ]; then echo "$$m: $$out"; status=1; fi; \
	    fi; \
	done; exit $$status

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ml \
	    $(DESTDIR)$(PREFIX)/share/ml $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(CMDS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 lib/libml.so lib/libml.a $(DESTDIR)$(PREFIX)/lib
	cd lib && for h in $$(find . -name '*.h'); do \
	    install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/ml/$$h; done
	for d in man1 man5 man7; do if ls man/$$d/* >/dev/null 2>&1; then \
	    install -d $(DESTDIR)$(PREFIX)/share/man/$$d; \
	    install -m 644 man/$$d/*.[1-9] $(DESTDIR)$(PREFIX)/share/man/$$d; fi; done
	if ls share/ml/* >/dev/null 2>&1; then install -m 644 share/ml/* $(DESTDIR)$(PREFIX)/share/ml; fi
	sed -e 's|@PREFIX@|$(PREFIX)|' ml.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ml.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(CMDS)))
	rm -f $(DESTDIR)$(PREFIX)/lib/libml.so $(DESTDIR)$(PREFIX)/lib/libml.a
	rm -rf $(DESTDIR)$(PREFIX)/include/ml $(DESTDIR)$(PREFIX)/share/ml
	rm -f $(DESTDIR)$(PREFIX)/lib/pkgconfig/ml.pc

clean:
	rm -f $(LIB_OBJ) lib/backend/cuda/*.o lib/libml.so lib/libml.a $(CMDS) $(UNITS) $(BENCHES)
	rm -f tools/ml-reference
	rm -f lib/.build-cuda*
	rm -rf tests/out
