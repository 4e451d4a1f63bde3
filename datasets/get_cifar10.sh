#!/usr/bin/env bash
# Download CIFAR-10 (python version, about 163 MB), verify its md5 and extract it to
# DEST/cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta, readme.html).
#
#   sh datasets/get_cifar10.sh [--dest DIR] [--force] [--keep-archive]
#
#   --dest DIR       the datasets folder to fill (default: this script's folder)
#   --force          fetch and extract again even when the batches are present
#   --keep-archive   keep cifar-10-python.tar.gz after extracting it
#
# Then: python -m autograder split --dataset cifar10
#
# Environment (for mirrors and for the kit's own tests):
#   CIFAR10_URL   download from here instead (http(s)://, or file:///path for a local copy)
#   CIFAR10_MD5   expected md5 of the archive instead of the pinned one
# Exit status: 0 done (or already present), 1 download/verify/extract failed, 2 bad usage.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

URL="${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz}"
MD5="${CIFAR10_MD5:-c58f30108f718f92721af3b95e74349a}"
ARCHIVE_NAME="cifar-10-python.tar.gz"
FOLDER="cifar-10-batches-py"
EXPECTED=(data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta)

DEST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FORCE=0
KEEP=0

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}
die() { echo "get_cifar10.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --dest) [ $# -ge 2 ] || { echo "get_cifar10.sh: --dest needs a folder" >&2; exit 2; }
                DEST="$2"; shift 2 ;;
        --dest=*) DEST="${1#--dest=}"; shift ;;
        --force) FORCE=1; shift ;;
        --keep-archive) KEEP=1; shift ;;
        *) echo "get_cifar10.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

complete() {
    local f
    for f in "${EXPECTED[@]}"; do [ -s "$1/$f" ] || return 1; done
}

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
        die "neither curl nor wget is installed; download $url by hand into $out"
    fi
    mv "$out.part" "$out"
}

md5_of() {
    if command -v md5sum >/dev/null 2>&1; then md5sum "$1" | cut -d' ' -f1
    elif command -v md5 >/dev/null 2>&1; then md5 -q "$1"
    else python3 -c 'import hashlib,sys; print(hashlib.md5(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

mkdir -p "$DEST" || die "cannot create $DEST"
DEST="$(cd "$DEST" && pwd)"
TARGET="$DEST/$FOLDER"
ARCHIVE="$DEST/$ARCHIVE_NAME"

if [ "$FORCE" = 0 ] && complete "$TARGET"; then
    echo "CIFAR-10 is already in $TARGET (use --force to fetch it again)"
    exit 0
fi

if [ -s "$ARCHIVE" ] && [ "$(md5_of "$ARCHIVE")" = "$MD5" ]; then
    echo "using the verified archive already in $ARCHIVE"
else
    echo "downloading $URL"
    download "$URL" "$ARCHIVE"
    GOT="$(md5_of "$ARCHIVE")"
    if [ "$GOT" != "$MD5" ]; then
        mv -f "$ARCHIVE" "$ARCHIVE.bad"
        die "checksum mismatch for $ARCHIVE_NAME: md5 $GOT, expected $MD5 (kept as $ARCHIVE.bad; delete it and run again, or set CIFAR10_MD5 for a different archive)"
    fi
    echo "md5 verified: $GOT"
fi

WORK="$(mktemp -d "$DEST/.cifar10-extract.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$ARCHIVE" -C "$WORK" || die "cannot extract $ARCHIVE (corrupt archive?)"
complete "$WORK/$FOLDER" \
    || die "$ARCHIVE_NAME does not hold $FOLDER/{${EXPECTED[*]}}"
rm -rf "$TARGET"
mv "$WORK/$FOLDER" "$TARGET"
[ "$KEEP" = 1 ] || rm -f "$ARCHIVE"
echo "CIFAR-10 is in $TARGET"
echo "next: python -m autograder split --dataset cifar10"
