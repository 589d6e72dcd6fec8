# AlphaDecay harness. `make` builds bin/alphadecay; see README.md for every target.
CC      ?= gcc
CFLAGS  ?= -O3 -march=native
# Open MPI (engine/dist/): include and link flags as its compiler wrapper reports them.
MPI_INC := $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c)
MPI_LIB := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c)
# OpenBLAS's cblas.h (a Debian alternative under the multiarch include directory, on any architecture).
BLAS_INC := $(shell pkg-config --cflags openblas 2>/dev/null)
# engine/<concern>/ directories: every header is found by its bare name; tests/e2e_layers.sh keeps
# each concern to the ones below it.
INC     := $(patsubst %/,-I%,$(sort $(wildcard engine/*/))) $(BLAS_INC) $(MPI_INC)
# -fno-trapping-math: we never read floating-point exception flags, and without it GCC keeps the
# clamps in exp_fast as branches, so the softmax, cross-entropy and SwiGLU loops stay scalar (they
# were a third of a tiny model's step). Arithmetic is not reassociated: only `omp simd` loops change.
CFLAGS  += -std=c11 -Wall -Wextra -fopenmp -fno-trapping-math -D_GNU_SOURCE $(INC)
LDLIBS  := $(MPI_LIB) -ldnnl -llapacke -lopenblas -lyaml -lgsl -lz -lsentencepiece -lstdc++ -lm -lpthread
LDFLAGS += -fopenmp
# The SentencePiece shim (engine/data/spm_shim.cc) is the one C++ file: g++, behind a C interface.
CXX      ?= g++
CXXFLAGS := -O2 -std=c++17 -Wall -Wextra $(INC)

ifeq ($(SAN),1)
CFLAGS  := -std=c11 -Wall -Wextra -fopenmp -fno-trapping-math -D_GNU_SOURCE $(INC) \
           -march=native -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
CXXFLAGS := -std=c++17 -Wall -Wextra $(INC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
BUILD   := build-san
else
BUILD   := build
endif

SRC      := $(wildcard engine/*/*.c) $(wildcard analysis/*.c)
HDR      := $(wildcard engine/*/*.h) $(wildcard analysis/*.h)
LIB_SRC  := $(filter-out engine/cli/main.c,$(SRC))
CXX_SRC  := $(wildcard engine/*/*.cc)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CXX_SRC:%.cc=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# The kernels with an AVX-512 path also have a portable one: their tests again, built without AVX-512.
PORT_BIN := $(BUILD)/tests/portable/test_gram $(BUILD)/tests/portable/test_tridiag
PORT_SRC := engine/spectra/gram.c engine/spectra/tridiag.c engine/base/common.c
# bf16_vec.h's kernels (bf16_pure's Adam, the fused conversions): the model, kernels and optimizer without AVX-512.
PORT_BIN += $(BUILD)/tests/portable/test_bf16_kernels
PORT_SRC_BF16 := $(wildcard engine/model/*.c) engine/optim/optim.c engine/base/common.c
BIN      := $(if $(filter 1,$(SAN)),$(BUILD)/alphadecay,bin/alphadecay)
# Build identity (engine/base/provenance.h, summary.json "build"): the source commit and the options of
# the effective CFLAGS that choose the instruction set, written by scripts/build_info.sh into a
# generated C file on every make, rewritten only when its text changes (a new commit relinks, an
# ordinary rebuild stays incremental).
ISA_FLAGS  = $(filter -m%,$(CFLAGS))
BUILD_INFO := $(BUILD)/gen/build_info.c
LIB_OBJ  += $(BUILD)/gen/build_info.o

.PHONY: all test run data bench paper deps clean format-check _test _run _data _bench _paper FORCE
all: $(BIN)

# The layers (docs/architecture.md): analysis/ headers are reachable only from the command layer
# (engine/cli/) and the tests; analysis/ finds its own headers beside its files.
$(BUILD)/engine/cli/%.o: CFLAGS += -Ianalysis
# The optimizer without errno from sqrtf: GCC then vectorises fp32/bf16 Adam's sqrtf (correctly rounded either
# way: the same bits, tests/test_bf16_kernels.c); the other files keep the default.
$(BUILD)/engine/optim/optim.o: CFLAGS += -fno-math-errno
# Each object depends on the headers it includes (-MMD: the compiler writes them to a .d file beside it).
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc Makefile
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD_INFO): FORCE
	@CC="$(CC)" bash scripts/build_info.sh $@ "$(ISA_FLAGS)"

$(BUILD)/gen/build_info.o: $(BUILD_INFO)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libalphadecay.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/engine/cli/main.o $(BUILD)/libalphadecay.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(BUILD)/libalphadecay.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Ianalysis -MMD -MP -MF $@.d $< $(BUILD)/libalphadecay.a $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/portable/%: tests/%.c $(wildcard tests/*.h) $(PORT_SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -mno-avx512f -Itests -Ianalysis $< $(PORT_SRC) $(LDFLAGS) $(LDLIBS) -o $@

-include $(LIB_OBJ:.o=.d) $(BUILD)/engine/cli/main.d $(TEST_BIN:=.d)

$(BUILD)/tests/portable/test_bf16_kernels: tests/test_bf16_kernels.c $(wildcard tests/*.h) $(PORT_SRC_BF16) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -mno-avx512f -Itests $< $(PORT_SRC_BF16) $(LDFLAGS) $(LDLIBS) -o $@

# The README's commands first install any missing Debian package (scripts/deps.sh, as root), then
# build and do their job; the underscored targets do the job alone.
test run data bench paper:
	@bash scripts/deps.sh
	@$(MAKE) --no-print-directory _$@

# Unit tests (C programs) then end-to-end tests (shell scripts); one closing "N passed, N failed" line.
_test: $(BIN) $(TEST_BIN) $(PORT_BIN)
	@AD_BIN=$(abspath $(BIN)) AD_TESTBIN=$(abspath $(BUILD)/tests) bash tests/run_all.sh

_data: $(BIN)
	@bash scripts/fetch_data.sh

_run: $(BIN)
	@bash scripts/run_main.sh

_bench: $(BIN)
	@bash scripts/bench.sh

_paper: $(BIN)
	@bash scripts/make_paper.sh

deps:
	@bash scripts/deps.sh

# The sources against .clang-format (Debian's clang-format): names every file that differs, exit 1.
# tests/e2e_format.sh runs it in `make test`.
FMT_SRC := $(SRC) $(HDR) $(CXX_SRC) $(wildcard tests/*.c tests/*.h)
format-check:
	@command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (Debian package clang-format)"; exit 1; }
	@bad=0; for f in $(FMT_SRC); do clang-format "$$f" | cmp -s "$$f" - || { echo "format-check: $$f differs from .clang-format"; bad=1; }; done; exit $$bad

clean:
	rm -rf build build-san bin
