# build-gpu.sh — sourced by the device scripts (h200-*.sh): sets $OUT (results folder, created)
# and TOPTHETA_DEVICE (NVIDIA unless set), builds the release tree build-gpu (configured once,
# then incremental) with its log in $OUT/build.log, exits with the log's tail if the build fails,
# and leaves the CLI's path in $tt. The GPU machine lacks PCRE2 (the tokenizer's regex library):
# besides ../shared/device/fetch-debs.sh, run `cd .devdeps && apt-get download libpcre2-dev
# libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3` here once, or meson setup fails there.
OUT=${OUT:-/tmp/tt-out}; mkdir -p "$OUT"
export TOPTHETA_DEVICE=${TOPTHETA_DEVICE:-NVIDIA}
{ [ -f build-gpu/build.ninja ] || { rm -rf build-gpu; meson setup build-gpu -Dtests=disabled --buildtype=release; }; ninja -C build-gpu; } > "$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; exit 1; }
tt=./build-gpu/tools/cli/toptheta
