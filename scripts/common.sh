# Helpers the scripts share (sourced, not run): the cache folder and installing `just`
# when a fresh machine lacks it.
# shellcheck shell=bash

KTPIPE_CACHE_DIR=${KTPIPE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ktpipe}
export PATH="$HOME/.cargo/bin:$KTPIPE_CACHE_DIR/tools/bin:$PATH"

# ensure_just: puts `just` on PATH, from PyPI's prebuilt wheel (seconds) into a private
# virtual environment, or from crates.io when PyPI is out of reach (minutes).
ensure_just() {
  command -v just >/dev/null 2>&1 && return 0
  echo "ktpipe: installing just into $KTPIPE_CACHE_DIR/tools" >&2
  mkdir -p "$KTPIPE_CACHE_DIR"
  if python3 -m venv "$KTPIPE_CACHE_DIR/tools" >/dev/null 2>&1 &&
    "$KTPIPE_CACHE_DIR/tools/bin/pip" install --quiet --disable-pip-version-check rust-just; then
    return 0
  fi
  cargo install --locked --root "$KTPIPE_CACHE_DIR/tools" just
}
