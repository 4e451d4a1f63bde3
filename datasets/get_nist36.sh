#!/usr/bin/env bash
# Fetch NIST36 (32x32 grey letters A-Z and digits 0-9; CMU 16-720 / GIST handout) into
# DEST/nist36/raw/: nist36_train.mat, nist36_valid.mat, nist36_test.mat.
#
#   sh datasets/get_nist36.sh [--dest DIR] [--from FILE] [--force] [--keep-archive]
#
#   --dest DIR       the datasets folder to fill (default: this script's folder)
#   --from FILE      use a data.zip downloaded by hand instead of downloading it
#   --force          replace what is already in DEST/nist36/raw
#   --keep-archive   keep the downloaded data.zip
#
# The handout's data.zip (the URL below) also holds other files; only the three .mat files
# are kept.  Then: python -m autograder split --dataset nist36
#
# The archive's sha256 is NOT pinned (no published checksum): the script prints it; set
# NIST36_SHA256 to make it verify one.
# Environment: NIST36_URL (download from here instead; http(s):// or file:///path),
# NIST36_SHA256 (expected sha256 of the downloaded or --from file).
# Exit status: 0 done (or already present), 1 download/verify/extract failed, 2 bad usage.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

URL="${NIST36_URL:-http://www.cs.cmu.edu/~lkeselma/16720a_data/data.zip}"
SHA256="${NIST36_SHA256:-}"
FILES=(nist36_train.mat nist36_valid.mat nist36_test.mat)

DEST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FORCE=0
KEEP=0
FROM=""

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}
die() { echo "get_nist36.sh: $*" >&2; exit 1; }
bad_usage() { echo "get_nist36.sh: $* (see --help)" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --dest) [ $# -ge 2 ] || bad_usage "--dest needs a folder"; DEST="$2"; shift 2 ;;
        --dest=*) DEST="${1#--dest=}"; shift ;;
        --from) [ $# -ge 2 ] || bad_usage "--from needs a file"; FROM="$2"; shift 2 ;;
        --from=*) FROM="${1#--from=}"; shift ;;
        --force) FORCE=1; shift ;;
        --keep-archive) KEEP=1; shift ;;
        *) bad_usage "unknown argument '$1'" ;;
    esac
done

download() {  # download URL FILE: curl (or wget) with retries; file:// copies
    local url="$1" out="$2"
    rm -f "$out.part"
    if command -v curl >/dev/null 2>&1; then
        local quiet=""
        [ -t 2 ] || quiet="-sS"  # progress meter only on a terminal
        curl -fL $quiet --retry 5 --retry-delay 5 --connect-timeout 30 -o "$out.part" "$url" \
            || { rm -f "$out.part"; die "download failed: $url"; }
    elif [ "${url#file://}" != "$url" ]; then
        cp "${url#file://}" "$out.part" || die "cannot copy ${url#file://}"
    elif command -v wget >/dev/null 2>&1; then
        wget --tries=5 --waitretry=5 --timeout=30 -O "$out.part" "$url" \
            || { rm -f "$out.part"; die "download failed: $url"; }
    else
        die "neither curl nor wget is installed; download $url by hand and use --from FILE"
    fi
    mv "$out.part" "$out"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
    else python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

complete() {
    local f
    for f in "${FILES[@]}"; do [ -s "$1/$f" ] || return 1; done
}

mkdir -p "$DEST" || die "cannot create $DEST"
DEST="$(cd "$DEST" && pwd)"
RAW="$DEST/nist36/raw"

if [ "$FORCE" = 0 ] && complete "$RAW"; then
    echo "NIST36 is already in $RAW (use --force to replace it)"
    exit 0
fi

mkdir -p "$DEST/nist36"
if [ -n "$FROM" ]; then
    [ -f "$FROM" ] || die "--from $FROM: file not found"
    ARCHIVE="$FROM"
    KEEP=1
else
    ARCHIVE="$DEST/nist36/data.zip"
    echo "downloading $URL"
    download "$URL" "$ARCHIVE"
fi

GOT="$(sha256_of "$ARCHIVE")"
if [ -n "$SHA256" ]; then
    if [ "$GOT" != "$SHA256" ]; then
        if [ -z "$FROM" ]; then mv -f "$ARCHIVE" "$ARCHIVE.bad"; fi
        die "checksum mismatch for $(basename "$ARCHIVE"): sha256 $GOT, expected $SHA256 (NIST36_SHA256)"
    fi
    echo "sha256 verified: $GOT"
else
    echo "sha256 of $(basename "$ARCHIVE"): $GOT (not pinned: set NIST36_SHA256 to verify it)"
fi

WORK="$(mktemp -d "$DEST/nist36/.extract.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$ARCHIVE" -d "$WORK" || die "cannot extract $(basename "$ARCHIVE") (corrupt zip?)"
else
    python3 -m zipfile -e "$ARCHIVE" "$WORK" || die "cannot extract $(basename "$ARCHIVE") (corrupt zip?)"
fi

FOUND=()
for f in "${FILES[@]}"; do
    p="$(find "$WORK" -type f -name "$f" | head -n 1 || true)"
    [ -n "$p" ] || die "$(basename "$ARCHIVE") does not hold $f (expected ${FILES[*]})"
    FOUND+=("$p")
done
rm -rf "$RAW"
mkdir -p "$RAW"
for p in "${FOUND[@]}"; do mv "$p" "$RAW/"; done
if [ "$KEEP" = 0 ]; then rm -f "$ARCHIVE"; fi
echo "NIST36 is in $RAW"
echo "next: python -m autograder split --dataset nist36"
