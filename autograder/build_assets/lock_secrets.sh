#!/bin/sh
# Make the grading files root-only so the sandboxed worker (another uid) cannot read them:
# hidden tests, the reference, private labels, the salt in assignment.toml and the results.
# Only each data set's public split stays readable (the worker loads it), reached through
# traverse-only (0711) folders that cannot be listed.  One home for this rule: Gradescope's
# setup.sh and the grading image's Dockerfile both run it.
#
#   lock_secrets.sh [TOP]     TOP (default: the source folder) and everything under it
#
# The source folder is $AUTOGRADER_SOURCE (default /autograder/source); its parent is the
# Gradescope root.
set -eu
SOURCE=${AUTOGRADER_SOURCE:-/autograder/source}
ROOT=$(dirname "$SOURCE")
TOP=${1:-$SOURCE}
chown -R root:root "$TOP"
chmod -R u=rwX,go= "$TOP"
chmod 0711 "$ROOT" "$SOURCE" "$SOURCE/datasets"
for d in "$SOURCE"/datasets/*/; do
    chmod 0711 "$d"
    if [ -d "$d/public" ]; then chmod -R a+rX "$d/public"
    elif [ ! -d "$d/private" ]; then chmod -R a+rX "$d"; fi
done
for f in "$ROOT/run_autograder" "$SOURCE/run_autograder" "$SOURCE/setup.sh" "$SOURCE/lock_secrets.sh"; do
    if [ -e "$f" ]; then chmod 0755 "$f"; fi
done
