#!/usr/bin/env bash
# Fetch FER2013 (48x48 grey faces, 7 emotions) into DEST/fer2013/raw/, in one of its two forms:
#
#   sh datasets/get_fer2013.sh                 Imperial's Fer2013pu.zip (about 40 MB): raw/Train/,
#                                              raw/Test/, raw/labels_public.txt
#   sh datasets/get_fer2013.sh --kaggle        Kaggle's challenge files via the `kaggle` CLI
#                                              (needs ~/.kaggle/kaggle.json and the rules
#                                              accepted on the competition page): raw/fer2013.csv
#   sh datasets/get_fer2013.sh --from FILE     a file downloaded by hand: Fer2013pu.zip, the
#                                              Kaggle zip, fer2013.tar.gz or fer2013.csv
#
#   --dest DIR       the datasets folder to fill (default: this script's folder)
#   --force          replace what is already in DEST/fer2013/raw
#   --keep-archive   keep the downloaded archive
#
# Only one form at a time: raw/ holds either fer2013.csv (Training, PublicTest and PrivateTest
# rows) or the Imperial folders (Train/ and Test/ only).  Kaggle's newer icml_face_data.csv
# (same rows, columns "emotion, Usage, pixels") is saved as fer2013.csv when no fer2013.csv
# is in the archive.  Then: python -m autograder split --dataset fer2013
#
# The archive's sha256 is NOT pinned (the files were republished several times): the script
# prints it; set FER2013_SHA256 to make it verify one.
# Environment: FER2013_URL (download from here instead; http(s):// or file:///path),
# FER2013_SHA256 (expected sha256 of the downloaded or --from file).
# Exit status: 0 done (or already present), 1 download/verify/extract failed, 2 bad usage.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

URL="${FER2013_URL:-https://www.doc.ic.ac.uk/~dlt10/Fer2013pu.zip}"
SHA256="${FER2013_SHA256:-}"
KAGGLE_COMPETITION="challenges-in-representation-learning-facial-expression-recognition-challenge"

DEST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FORCE=0
KEEP=0
MODE=url
FROM=""

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}
die() { echo "get_fer2013.sh: $*" >&2; exit 1; }
bad_usage() { echo "get_fer2013.sh: $* (see --help)" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --dest) [ $# -ge 2 ] || bad_usage "--dest needs a folder"; DEST="$2"; shift 2 ;;
        --dest=*) DEST="${1#--dest=}"; shift ;;
        --from) [ $# -ge 2 ] || bad_usage "--from needs a file"; MODE=from; FROM="$2"; shift 2 ;;
        --from=*) MODE=from; FROM="${1#--from=}"; shift ;;
        --kaggle) MODE=kaggle; shift ;;
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

verify() {  # verify FILE: compare with FER2013_SHA256 when set, else print the sha256
    local got
    got="$(sha256_of "$1")"
    if [ -n "$SHA256" ]; then
        if [ "$got" != "$SHA256" ]; then
            if [ "$MODE" = url ]; then mv -f "$1" "$1.bad"; fi
            die "checksum mismatch for $(basename "$1"): sha256 $got, expected $SHA256 (FER2013_SHA256)"
        fi
        echo "sha256 verified: $got"
    else
        echo "sha256 of $(basename "$1"): $got (not pinned: set FER2013_SHA256 to verify it)"
    fi
}

extract() {  # extract ARCHIVE DIR
    local a="$1" d="$2"
    case "$a" in
        *.zip|*.ZIP)
            if command -v unzip >/dev/null 2>&1; then unzip -q -o "$a" -d "$d"
            else python3 -m zipfile -e "$a" "$d"; fi ;;
        *.tar.gz|*.tgz) tar -xzf "$a" -C "$d" ;;
        *.tar) tar -xf "$a" -C "$d" ;;
        *.csv) cp "$a" "$d/" ;;
        *) die "do not know how to unpack $(basename "$a"); expected .zip, .tar.gz, .tgz, .tar or .csv" ;;
    esac || die "cannot extract $(basename "$a") (corrupt archive?)"
}

mkdir -p "$DEST" || die "cannot create $DEST"
DEST="$(cd "$DEST" && pwd)"
RAW="$DEST/fer2013/raw"

if [ "$FORCE" = 0 ] && { [ -s "$RAW/fer2013.csv" ] || [ -s "$RAW/labels_public.txt" ]; }; then
    echo "FER2013 is already in $RAW (use --force to replace it)"
    exit 0
fi

mkdir -p "$DEST/fer2013"
WORK="$(mktemp -d "$DEST/fer2013/.extract.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/files" "$WORK/tree"

ARCHIVE=""
case "$MODE" in
    url)
        NAME="$(basename "${URL%%\?*}")"
        ARCHIVE="$DEST/fer2013/$NAME"
        echo "downloading $URL"
        download "$URL" "$ARCHIVE" ;;
    from)
        [ -f "$FROM" ] || die "--from $FROM: file not found"
        ARCHIVE="$FROM"; KEEP=1 ;;
    kaggle)
        command -v kaggle >/dev/null 2>&1 \
            || die "the kaggle CLI is not installed (pip install kaggle; put your API token in ~/.kaggle/kaggle.json), or download fer2013.csv by hand and use --from FILE"
        kaggle competitions download -c "$KAGGLE_COMPETITION" -p "$WORK/files" \
            || die "kaggle download failed (token in ~/.kaggle/kaggle.json? rules accepted at https://www.kaggle.com/c/$KAGGLE_COMPETITION/rules?)"
        ARCHIVE="$(ls "$WORK"/files/*.zip 2>/dev/null | head -n 1 || true)"
        [ -n "$ARCHIVE" ] || die "kaggle produced no .zip in $WORK/files" ;;
esac
verify "$ARCHIVE"
extract "$ARCHIVE" "$WORK/tree"

# Kaggle's zip holds fer2013.tar.gz: unpack nested tarballs once.
while IFS= read -r inner; do
    tar -xzf "$inner" -C "$(dirname "$inner")" || die "cannot extract $(basename "$inner") inside $(basename "$ARCHIVE")"
done < <(find "$WORK/tree" -type f \( -name '*.tar.gz' -o -name '*.tgz' \))

LABELS="$(find "$WORK/tree" -type f -name labels_public.txt | head -n 1 || true)"
CSV="$(find "$WORK/tree" -type f -name fer2013.csv | head -n 1 || true)"
[ -n "$CSV" ] || CSV="$(find "$WORK/tree" -type f -name icml_face_data.csv | head -n 1 || true)"
[ -n "$LABELS" ] || [ -n "$CSV" ] \
    || die "$(basename "$ARCHIVE") holds neither labels_public.txt (Imperial) nor fer2013.csv (Kaggle)"
rm -rf "$RAW"
mkdir -p "$RAW"
if [ -n "$LABELS" ]; then
    SRC="$(dirname "$LABELS")"
    TRAIN="$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -iname train | head -n 1 || true)"
    [ -n "$TRAIN" ] || die "$(basename "$ARCHIVE") has labels_public.txt but no Train/ folder beside it"
    mv "$LABELS" "$RAW/"
    find "$SRC" -mindepth 1 -maxdepth 1 -type d \( -iname train -o -iname test \) -exec mv {} "$RAW/" \;
    echo "FER2013 (Imperial layout: Train/, Test/, labels_public.txt) is in $RAW"
elif [ -n "$CSV" ]; then
    mv "$CSV" "$RAW/fer2013.csv"
    echo "FER2013 (Kaggle fer2013.csv) is in $RAW/fer2013.csv"
fi
if [ "$KEEP" = 0 ] && [ "$MODE" = url ]; then rm -f "$ARCHIVE"; fi
echo "next: python -m autograder split --dataset fer2013"
