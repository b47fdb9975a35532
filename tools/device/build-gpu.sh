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
# tt_env "SETTINGS" CMD...: runs CMD under a variant's settings "A=x B=y"; a word that is not
# NAME=VALUE belongs to the setting before it, so that "TT_PF_DEFS=-DA=1 -DB=2" passes both
# defines (`env $envs` made "-DB=2" a variable of its own: until 2026-12-06, twelfth, a
# variant's second -D define was silently dropped).
tt_env() {
    local w a=()
    for w in $1; do
        if [[ $w =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || [ ${#a[@]} = 0 ]; then a+=("$w"); else a[-1]+=" $w"; fi
    done
    shift
    env "${a[@]}" "$@"
}
