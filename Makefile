# The two commands of the quick start, each doing its own set-up:
#   make run    install what is missing, build, fetch MNIST, train configs/mnist.yaml
#               (--overwrite: each make run replaces the previous runs/mnist)
#   make test   install what is missing, build, fetch MNIST, run the whole suite (CTest)
# Also: make build, make data, make asan (the suite under ASan + UBSan),
# make test-baseline (the suite again, same build, with the portable kernels
# forced by CNN_ISA=baseline: the paths a CPU without AVX2 takes), make fuzz
# (each libFuzzer target for FUZZ_SECONDS), make install (the library,
# cnnrun.h, cnnrun.pc, the CMake package and the program under PREFIX,
# default /usr/local; DESTDIR is honoured), make clean.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
CONFIG     ?= configs/mnist.yaml
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build data run test test-baseline install asan fuzz clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

data:
	@data/fetch-mnist.sh data/mnist

run: build data
	$(BUILD)/cnnrun $(CONFIG) --overwrite

test: build data
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

asan: deps data
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCNN_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS) -LE slow

test-baseline: build data
	cd $(BUILD) && CNN_ISA=baseline ctest --output-on-failure -j $(JOBS) -LE slow

fuzz:
	@scripts/install-deps.sh --fuzz
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DCNN_FUZZ=ON
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
