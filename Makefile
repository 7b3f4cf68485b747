# natadv — build, test and benchmark.
#   make            build build/rel/natadv (and ./natadv, a link to it)
#   make test       install what is missing, build release + ASan/UBSan, run every test
#                   (tests/suites.txt lists them; a skipped test fails here)
#   make demo       crawl the bundled example seed list from a loopback server
#   make bench      run the benchmarks in bench/ (slow; not part of test)
#   make coverage   the suites of make test against a gcc --coverage build: an
#                   HTML report in build/coverage, last line "lines: N% branches: N%"

.DEFAULT_GOAL := all
PKGS := libcurl sqlite3 libjpeg libpng libxxhash jansson libcrypto openblas libmicrohttpd libarchive
TEST_PKGS := libmicrohttpd
CC ?= cc
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wno-format-truncation -D_GNU_SOURCE
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Which build: rel (-O2) or asan (AddressSanitizer + UBSan).
MODE ?= rel
ifeq ($(MODE),asan)
# GCC's UBSan runtime is linked statically: the shared one writes its reports
# to stderr whatever UBSAN_OPTIONS's log_path says (tests/run.sh needs it).
OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -static-libubsan
else ifeq ($(MODE),cov)
OPT := -O1 -g --coverage
else
OPT := -O2 -g
endif
B := build/$(MODE)

# build/config.mk is made once by checking the Debian packages and asking pkg-config.
include build/config.mk
build/config.mk: scripts/install-deps.sh Makefile
	@mkdir -p build
	@scripts/install-deps.sh build
	@printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\nTEST_CFLAGS := %s\nTEST_LIBS := %s\n' \
	  "$$(pkg-config --cflags $(PKGS))" "$$(pkg-config --libs $(PKGS))" \
	  "$$(pkg-config --cflags $(TEST_PKGS))" "$$(pkg-config --libs $(TEST_PKGS))" > $@

CFLAGS_ALL = $(WARN) $(OPT) -I. $(PKG_CFLAGS) -DNATADV_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
LIBS_ALL = $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(wildcard common/*.c store/*.c image/*.c crawler/*.c filter/*.c packager/*.c review/*.c rebuild/*.c report/*.c scaleout/*.c slurm/*.c)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
EMBED := $(sort $(wildcard schema/*.sql)) $(wildcard schema/*.tsv) $(wildcard review/page/*)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/embedded.o
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
TESTS := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAYS := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(B)/fuzz/replay_%)

.PHONY: all test unit e2e demo bench bench-validate clean lint fuzz check-pytorch coverage
all: $(B)/natadv $(if $(filter rel,$(MODE)),natadv)

# ./natadv points at the build of this MODE, always: make compares the time of
# the file it points at, so without .PHONY an older rel build stayed behind a
# newer ASan one and benchmarks timed ASan
.PHONY: natadv
natadv: $(B)/natadv
	ln -sfn $(B)/natadv natadv

$(B)/natadv: $(CLI_OBJ) $(B)/libnatadv.a
	$(CC) $(OPT) -o $@ $(CLI_OBJ) $(B)/libnatadv.a $(LIBS_ALL)

$(B)/libnatadv.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/gen/embedded.c: scripts/embed.py $(EMBED)
	@mkdir -p build/gen
	python3 scripts/embed.py $@ $(EMBED)

$(B)/gen/embedded.o: build/gen/embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/libnatadv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libnatadv.a $(LIBS_ALL)

$(B)/testsrv: tests/server/testsrv.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(TEST_CFLAGS) -o $@ $< $(TEST_LIBS) -lpthread

$(B)/testproxy: tests/server/testproxy.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -o $@ $< -lpthread

$(B)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(B)/libnatadv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(B)/libnatadv.a $(LIBS_ALL)

# Coverage-guided fuzzing with clang's libFuzzer: make fuzz-NAME [SECONDS=60]
# clang builds the library once more, with coverage and ASan+UBSan, into
# build/fuzz/libnatadv.a; a target links only the objects it needs. New
# inputs go to build/fuzz/corpus/NAME (tests/fuzz/corpus/NAME seeds it and
# keeps only the regression inputs chosen by hand), crashes to build/fuzz/.
SECONDS ?= 60
FZ := build/fuzz
FUZZ_CFLAGS = $(filter-out -Wno-format-truncation,$(WARN)) -g -O1 \
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
  -I. $(PKG_CFLAGS) -DNATADV_VERSION='"$(VERSION)"' -MMD -MP
FUZZ_OBJ := $(LIB_SRC:%.c=$(FZ)/obj/%.o) $(FZ)/obj/gen/embedded.o

$(FUZZ_OBJ): | $(FZ)/.deps
$(FZ)/.deps: scripts/install-deps.sh
	@scripts/install-deps.sh fuzz
	@mkdir -p $(FZ) && touch $@

$(FZ)/obj/gen/embedded.o: build/gen/embedded.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/libnatadv.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FZ)/bin/fuzz_%: tests/fuzz/fuzz_%.c $(FZ)/libnatadv.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FZ)/libnatadv.a $(LIBS_ALL)

.PRECIOUS: $(FZ)/bin/fuzz_%
fuzz-%: $(FZ)/bin/fuzz_%
	@mkdir -p $(FZ)/corpus/$*
	$< -max_total_time=$(SECONDS) -artifact_prefix=$(FZ)/$*- \
	  $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
	  $(FZ)/corpus/$* tests/fuzz/corpus/$*

# every target in turn, SECONDS each
fuzz: $(FUZZ_SRC:tests/fuzz/fuzz_%.c=fuzz-%)

tools: $(B)/natadv $(TESTS) $(REPLAYS) $(B)/testsrv $(B)/testproxy $(B)/validate_bench $(B)/image_bench

# JPEG validation speed per core, libjpeg-turbo's pass against the entropy
# walk (image/jpeg_walk.c): make bench-validate [DIRS="photo folders"]
$(B)/validate_bench: bench/validate_bench.c $(B)/libnatadv.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libnatadv.a $(LIBS_ALL)

bench-validate: $(B)/validate_bench
	$(B)/validate_bench -r 7 $(or $(DIRS),tests/fixtures)

# img_validate's throughput (JPEG and PNG, images/s and MP/s) over the fixtures
$(B)/image_bench: bench/image_bench.c $(B)/libnatadv.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libnatadv.a $(LIBS_ALL)

# natadv merge's throughput: 64 synthetic crawl parts of 200,000 images in all
$(B)/merge_bench: bench/merge_bench.c $(B)/libnatadv.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libnatadv.a $(LIBS_ALL)

# bench/merge.sh times the natadv merge command itself, over 5 rounds
.PHONY: bench-merge
bench-merge:
	bash bench/merge.sh

# playwright-core from npm drives Debian's chromium in the browser test; 1.61 is
# the newest that still runs on Node.js 18 (Debian 12's).
PLAYWRIGHT := 1.61.1
build/node/.playwright-core-$(PLAYWRIGHT):
	@mkdir -p build/node
	cd build/node && npm install --no-audit --no-fund --save-exact --loglevel=error playwright-core@$(PLAYWRIGHT)
	@touch $@

# The test command of the README: deps, both builds, every test.
test:
	@scripts/install-deps.sh test
	$(MAKE) build/node/.playwright-core-$(PLAYWRIGHT)
	$(MAKE) MODE=rel tools natadv
	$(MAKE) MODE=asan tools
	@scripts/check-banned.sh
	@scripts/check-long-functions.sh
	@$(CC) $(WARN) -I. -DNATADV_NO_PDEP -fsyntax-only image/jpeg_walk.c  # the build without pdep
	@NATADV_STRICT=1 tests/run.sh

# Line and branch coverage of the library and CLI by make test's suites
# (the release-build ones, against build/cov; lcov/genhtml from Debian).
coverage:
	@scripts/install-deps.sh coverage
	$(MAKE) build/node/.playwright-core-$(PLAYWRIGHT)
	$(MAKE) MODE=cov tools
	@scripts/coverage.sh

demo:
	@scripts/install-deps.sh test
	$(MAKE) MODE=rel natadv build/rel/testsrv
	@scripts/demo.sh

bench:
	@scripts/install-deps.sh bench
	$(MAKE) MODE=rel tools natadv
	build/rel/image_bench tests/fixtures
	bench/crawl.sh
	bench/score.sh
	bench/vgg_bench.sh
	bench/score256.sh
	bench/fast_agreement.sh
	bench/slurm.sh
	$(MAKE) MODE=rel bench-merge

# Live comparison with PyTorch/torchvision (Debian's python3-torch, large; not part of test):
# full-size torchvision models against natadv's forward pass, and PIL preprocessing bit for bit;
# an exported release loaded with torchvision's ImageFolder (label i = the i-th wnid).
# ImageNet-O's OOD measures (AUROC, AP, FPR95) against Debian's python3-sklearn.
check-pytorch:
	@scripts/install-deps.sh test
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchvision python3-pil >/dev/null
	$(MAKE) MODE=rel build/rel/tests/test_resnet natadv
	/usr/bin/python3 scripts/golden_resnet.py --check build/rel/tests/test_resnet resnet18 resnet50 resnext50_32x4d
	$(MAKE) MODE=rel build/rel/tests/test_vgg
	/usr/bin/python3 scripts/golden_vgg.py --check build/rel/tests/test_vgg
	/usr/bin/python3 scripts/check_pytorch.py build/rel/natadv resnet18 resnet50 resnext50_32x4d
	$(MAKE) MODE=rel build/rel/tests/test_densenet
	/usr/bin/python3 scripts/golden_densenet.py --check build/rel/tests/test_densenet densenet121 densenet161 densenet169 densenet201
	/usr/bin/python3 scripts/check_pytorch.py build/rel/natadv densenet121
	$(MAKE) MODE=rel build/rel/testsrv
	NATADV_KEEP_RELEASE=build/check-export bash tests/e2e/export.sh
	/usr/bin/python3 scripts/check_export_torchvision.py build/check-export/full build/check-export/partial
	NATADV_KEEP_RELEASE=build/check-export-o bash tests/e2e/imagenet_o.sh
	/usr/bin/python3 scripts/check_export_torchvision.py --ood build/check-export-o
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >/dev/null
	$(MAKE) MODE=rel build/rel/tests/test_eval
	/usr/bin/python3 scripts/check_ood_metrics.py build/rel/tests/test_eval

clean:
	rm -rf build natadv

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(REPLAYS:=.d) $(B)/validate_bench.d $(B)/image_bench.d $(wildcard $(FZ)/obj/*/*.d $(FZ)/bin/*.d)
