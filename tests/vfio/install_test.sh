#!/bin/sh
# Install the build tree into a scratch prefix and build a C program against it exactly as a user would:
#   cc app.c $(pkg-config --cflags --libs iommusim)
# then run it (the canonical VFIO flow with DMA). usage: install_test.sh BUILD_DIR SOURCE.c SCRATCH_DIR
set -e
build=$1; src=$2; scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > "$scratch/install.log"
libdir=$(ls -d "$scratch"/prefix/lib*/pkgconfig | head -n 1)
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cc -o "$scratch/flow" "$src" $(pkg-config --cflags --libs iommusim)
"$scratch/flow" qemu-q35 0000:01:00.0
