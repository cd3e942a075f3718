#!/usr/bin/env bash
# Builds the npm package's engine: sockweave-wasm for wasm32, wasm-bindgen
# (--target nodejs) into npm/dist/ and (--target web, for the browser entry
# browser.mjs) into npm/dist/web/ with the browser bundle of npm/lib
# (npm/build_browser.js), then wasm-opt -Oz from the npm `binaryen`
# package (>= 110; Debian's binaryen 108 breaks wasm-bindgen output, so it is
# never used). Idempotent: wasm-bindgen-cli is installed (at exactly the
# version of the wasm-bindgen crate in Cargo.lock) only when missing, binaryen
# only when npm/node_modules lacks it.
#
# Environment: CARGO_TARGET_DIR (default: the workspace's target/),
# SOCKWEAVE_NO_WASM_OPT=1 to skip wasm-opt, SOCKWEAVE_WASM_PROFILE (default
# wasm; see the workspace Cargo.toml).
#
# Size: the module must stay at most 100 KiB gzipped (npm/README.md, "wasm
# size", has the breakdown and how to measure it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DIST="$HERE/dist"

log() { printf 'npm/build.sh: %s\n' "$*" >&2; }

# The wasm-bindgen version pinned in Cargo.lock.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
[ -n "$WB_VERSION" ] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

WB="$(command -v wasm-bindgen || true)"
if [ -z "$WB" ] || [ "$("$WB" --version | awk '{print $2}')" != "$WB_VERSION" ]; then
    log "installing wasm-bindgen-cli $WB_VERSION (about 3 minutes)"
    # Not --locked: the registry mirror here lacks one of its pinned dependency versions.
    cargo install --force wasm-bindgen-cli --version "$WB_VERSION"
    WB="$(command -v wasm-bindgen || echo "$HOME/.cargo/bin/wasm-bindgen")"
fi

log "cargo build (wasm32-unknown-unknown, profile wasm: opt-level z, fat LTO)"
# [profile.wasm] (workspace Cargo.toml) is for this build only; native builds
# keep [profile.release]. SOCKWEAVE_WASM_PROFILE=release builds the old way
# (for comparing sizes and speed).
PROFILE="${SOCKWEAVE_WASM_PROFILE:-wasm}"
# Panic locations name source files: short fixed prefixes instead of this
# machine's paths make the module smaller and the same wherever it is built.
REGISTRY="${CARGO_HOME:-$HOME/.cargo}/registry/src"
RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$REGISTRY=/crates --remap-path-prefix=$ROOT=/sockweave" \
    cargo build --profile "$PROFILE" --target wasm32-unknown-unknown -p sockweave-wasm --manifest-path "$ROOT/Cargo.toml"
WASM="$TARGET_DIR/wasm32-unknown-unknown/$PROFILE/sockweave_wasm.wasm"

rm -rf "$DIST.tmp"
mkdir -p "$DIST.tmp"
"$WB" --target nodejs --out-dir "$DIST.tmp" --out-name sockweave_wasm --no-typescript "$WASM"
# The browser build: an ES module that fetches its .wasm next to it (init()).
"$WB" --target web --out-dir "$DIST.tmp/web" --out-name sockweave_wasm --no-typescript "$WASM"

if [ "${SOCKWEAVE_NO_WASM_OPT:-0}" != 1 ]; then
    OPT="$HERE/node_modules/.bin/wasm-opt"
    if [ ! -x "$OPT" ]; then
        log "installing binaryen (npm) for wasm-opt"
        (cd "$HERE" && npm install --no-save --no-audit --no-fund --no-package-lock binaryen@132.0.0 >&2)
    fi
    for d in "$DIST.tmp" "$DIST.tmp/web"; do
        "$OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
            --enable-reference-types --enable-multivalue --strip-debug --strip-producers \
            "$d/sockweave_wasm_bg.wasm" -o "$d/sockweave_wasm_bg.opt.wasm"
        mv "$d/sockweave_wasm_bg.opt.wasm" "$d/sockweave_wasm_bg.wasm"
    done
fi
node "$HERE/build_browser.js" "$DIST.tmp/web/sockweave_lib.mjs"
# dist/web holds ES modules (the package itself is CommonJS).
echo '{ "type": "module" }' >"$DIST.tmp/web/package.json"

rm -rf "$DIST"
mv "$DIST.tmp" "$DIST"
GZ="$(gzip -9c "$DIST/sockweave_wasm_bg.wasm" | wc -c)"
log "built $(wc -c <"$DIST/sockweave_wasm_bg.wasm") bytes of wasm ($GZ gzipped) in npm/dist/"
if [ "$GZ" -gt 102400 ]; then
    log "WARNING: the wasm is over its budget of 100 KiB gzipped (npm/README.md, \"wasm size\")"
fi
