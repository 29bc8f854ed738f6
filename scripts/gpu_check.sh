#!/usr/bin/env bash
# The GPU backend's check, for the day a GPU is at hand: builds the GPU tests and benchmarks, runs
# them, and prints a table (docs/benchmarks.md keeps it).
#
#   scripts/gpu_check.sh            build (build-gpu/), run the GPU tests, run the GPU benchmarks
#   scripts/gpu_check.sh --bundle   on a machine set up by scripts/setup.sh: pack what a GPU machine
#                                   without a package manager needs into .gpu_deps.tar.xz (below)
#
# The tests (tests/cuda/test_cuda_trainer.cpp): the GPU's gradients against the CPU trainer's on the
# same weights and batch (5 networks: paper_lenet's smallest and largest kernels and an even one,
# classic LeNet-5, a "same"-padded even kernel), CPU/GPU agreement after 100 steps of SGD with
# momentum, dropout and the inv schedule, and after 40 of Adam, one epoch reaching the CPU's accuracy
# (MNIST when it is in data/, else synthetic), determinism, divergence, bad settings refused; then
# tests/cuda/check_skip.py's check that they ran. The benchmarks (bench/bench_cuda_trainer.cpp):
# training images/s at batch 32 and 256 for classic_lenet5 and paper_lenet's largest config, and
# seconds per paper trial (one epoch of 55,000 images, then 15,000 evaluated). Targets on an
# H100-class GPU: classic_lenet5 >= 300,000 images/s at batch 32, >= 1,500,000 at batch 256.
#
# A GPU machine with nvcc but no package manager. It must have: an NVIDIA driver and GPU, the CUDA
# toolkit (nvcc, cudart, cuBLAS), CMake >= 3.25, a C++20 host compiler (g++ >= 11), python3; and
# cuDNN 9, found in $CUDNN_ROOT, in the CUDA toolkit, or in a Python wheel's nvidia/cudnn folder (as
# PyTorch installs it). Everything else comes from this machine, in .gpu_deps.tar.xz (--bundle),
# taken from these Debian 12 packages' files:
#   headers     xtensor, xtl, xsimd (libxtensor-dev, libxtl-dev, libxsimd-dev), xtensor-blas
#               (libxtensor-blas-dev), nlohmann/json (nlohmann-json3-dev), fmt (libfmt-dev),
#               boost/hana with boost/version.hpp and boost/config (libboost-dev), catch2 v2 (catch2),
#               CLI11 (libcli11-dev), benchmark (libbenchmark-dev), zlib.h (zlib1g-dev), cblas.h and
#               openblas_config.h (libopenblas-dev)
#   libraries   libopenblas.so.0 with libgfortran.so.5 and libquadmath.so.0, libfmt.so.9,
#               libbenchmark.so.1debian, libz.so.1 (each with its unversioned link), libbenchmark_main.a,
#               libCatch2WithMain.a
#   CMake files the package configurations of xtensor, xtl, xsimd, xtensor-blas, nlohmann_json, fmt,
#               Boost and boost_headers, Catch2, CLI11, benchmark
#   data        MNIST (data/mnist), so that the one-epoch test trains on it
# The bundle unpacks to /tmp/mahpo_gpu_deps/usr; CMAKE_PREFIX_PATH, CPATH, LIBRARY_PATH and
# LD_LIBRARY_PATH point there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bundle=$root/.gpu_deps.tar.xz

if [[ "${1:-}" == "--bundle" ]]; then
  stage=$(mktemp -d)
  copy() { for path in "$@"; do if [[ -e $path ]]; then mkdir -p "$stage$(dirname "$path")" && cp -a "$path" "$stage$path"; else echo "gpu_check: $path is missing here: run scripts/setup.sh" >&2; exit 1; fi; done; }
  copy_resolved() { for path in "$@"; do copy "$path" "$(readlink -f "$path")"; done; }
  inc=/usr/include lib=/usr/lib/x86_64-linux-gnu
  copy $inc/xtensor $inc/xtl $inc/xsimd $inc/xtensor-blas $inc/nlohmann $inc/fmt $inc/catch2 $inc/CLI $inc/benchmark
  copy $inc/boost/hana $inc/boost/hana.hpp $inc/boost/version.hpp $inc/boost/config $inc/boost/config.hpp
  copy $inc/zlib.h $inc/zconf.h
  copy_resolved $inc/x86_64-linux-gnu/cblas.h $inc/x86_64-linux-gnu/openblas_config.h
  copy_resolved $lib/libopenblas.so $lib/libopenblas.so.0 $lib/libgfortran.so.5 $lib/libquadmath.so.0
  copy_resolved $lib/libfmt.so $lib/libfmt.so.9 $lib/libbenchmark.so $lib/libbenchmark.so.1debian $lib/libz.so $lib/libz.so.1
  copy $lib/libbenchmark_main.a
  copy $lib/cmake/xtensor $lib/cmake/xtensor-blas $lib/cmake/xsimd $lib/cmake/fmt $lib/cmake/benchmark
  copy $lib/cmake/Boost-1.74.0 $lib/cmake/boost_headers-1.74.0 $lib/cmake/BoostDetectToolset-1.74.0.cmake
  copy /usr/share/cmake/xtl /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 /usr/lib/cmake/Catch2 /usr/lib/libCatch2WithMain.a
  if [[ -d $root/data/mnist ]]; then mkdir -p "$stage/data" && cp -aL "$root/data/mnist" "$stage/data/"; fi
  tar -C "$stage" -cJf "$bundle" .
  rm -rf "$stage"
  echo "gpu_check: wrote $bundle ($(du -h "$bundle" | cut -f1)); copy it with the repository to the GPU machine"
  exit 0
fi

command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null || { echo "gpu_check: no nvcc: install the CUDA toolkit" >&2; exit 1; }
nvidia-smi -L >/dev/null 2>&1 || { echo "gpu_check: nvidia-smi sees no GPU here: the GPU tests need one" >&2; exit 1; }
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)

if [[ -f $bundle ]] && ! dpkg -s libxtensor-dev >/dev/null 2>&1; then  # no Debian packages: the bundle
  deps=/tmp/mahpo_gpu_deps
  rm -rf $deps && mkdir -p $deps && tar -C $deps -xJf "$bundle"
  export CMAKE_PREFIX_PATH=$deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export CPATH=$deps/usr/include:$deps/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  export LIBRARY_PATH=$deps/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  [[ -d $deps/data/mnist && ! -d data/mnist ]] && export MAHPO_DATA_DIR=$deps/data
fi

# cuDNN: $CUDNN_ROOT, the toolkit, or a Python wheel's nvidia/cudnn (its libraries are versioned only:
# an unversioned link is made beside a copy of its layout).
if [[ -z "${CUDNN_ROOT:-}" ]] && ! ls "$(dirname "$(dirname "$(command -v nvcc)")")"/include/cudnn.h >/dev/null 2>&1; then
  wheel=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null || true)
  [[ -n "$wheel" ]] || { echo "gpu_check: no cuDNN found (set CUDNN_ROOT, or install the nvidia-cudnn wheel)" >&2; exit 1; }
  export CUDNN_ROOT=/tmp/mahpo_cudnn
  rm -rf $CUDNN_ROOT && mkdir -p $CUDNN_ROOT/lib
  ln -s "$wheel/include" $CUDNN_ROOT/include
  for so in "$wheel"/lib/libcudnn*.so*; do ln -s "$so" $CUDNN_ROOT/lib/; done
  ln -sf "$(ls "$wheel"/lib/libcudnn.so.* | head -1)" $CUDNN_ROOT/lib/libcudnn.so
  export LD_LIBRARY_PATH=$CUDNN_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

jobs=$(nproc)
echo "gpu_check: $gpu (sm_$arch), building with $jobs jobs"
mkdir -p build-gpu
log=build-gpu/gpu_check.log
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DMAHPO_ENABLE_CUDA=ON -DMAHPO_CUDA_ARCHITECTURES="$arch" \
  -DMAHPO_ENABLE_MPI=OFF >$log 2>&1 || { tail -30 $log; exit 1; }
grep -q "CUDA backend enabled" $log || { grep "mahpo:" $log; echo "gpu_check: CMake did not enable the CUDA backend" >&2; exit 1; }
cmake --build build-gpu -j "$jobs" --target mahpo_cuda_tests bench_cuda_trainer train_lenet >>$log 2>&1 \
  || { tail -40 $log; exit 1; }

status=0
echo "== GPU tests"
python3 tests/cuda/check_skip.py build-gpu/tests/mahpo_cuda_tests || status=1

echo "== GPU benchmarks"
build-gpu/bench/bench_cuda_trainer --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out=build-gpu/bench_cuda_trainer.json --benchmark_out_format=json >/dev/null || status=1
python3 - "$gpu" <<'EOF'
import json, sys
runs = json.load(open("build-gpu/bench_cuda_trainer.json"))["benchmarks"]
median = {r["run_name"]: r for r in runs if r.get("aggregate_name") == "median"}
print(f"\nGPU: {sys.argv[1]}\n")
print("| network | batch | training images/s (median of 3) | target |")
print("|---|---|---|---|")
targets = {("classic_lenet5", "32"): 300000, ("classic_lenet5", "256"): 1500000}
for name, r in median.items():
    if name.startswith("train_rate/"):
        network, batch = name.split("/")[1], name.split("batch:")[1].split("/")[0]
        rate = r.get("images_per_second", 0.0)
        target = targets.get((network, batch))
        verdict = "" if target is None else f">= {target:,} ({'met' if rate >= target else 'missed'})"
        print(f"| {network} | {batch} | {rate:,.0f} | {verdict} |")
print("\n| paper trial (1 epoch of 55,000 images, then 15,000 evaluated) | seconds (median of 3) |\n|---|---|")
for name, r in median.items():
    if name.startswith("paper_trial/"):
        print(f"| {name.split('/')[1]} config | {r['real_time']:.2f} |")
EOF
exit $status
