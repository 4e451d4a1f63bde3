#!/usr/bin/env bash
# Installs the system packages the sandbox and the container path use:
#   bubblewrap  the process backend's namespace sandbox (no network, private /tmp, hidden secrets)
#   podman runc debootstrap  the grading image and `batch --backend container`
#   chromium chromium-driver  a real headless browser for the HTML tests (student document,
#                             class report; tests/kits/browserkit.py)
# Runs only as root on a Debian/Ubuntu machine; elsewhere it says what is missing and
# why, and the kit falls back (see README "Security"): it never fails the caller.
set -u
need=()
command -v bwrap       >/dev/null 2>&1 || need+=(bubblewrap)
command -v podman      >/dev/null 2>&1 || need+=(podman)
command -v runc        >/dev/null 2>&1 || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v chromium    >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
    echo "system deps: bubblewrap, podman, runc, debootstrap, chromium and chromium-driver are present"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system deps: missing ${need[*]}; not root or no apt-get, so not installing them." >&2
    echo "  the sandbox falls back to rlimits + a separate uid/network namespace where it can," >&2
    echo "  and the container tests skip with this reason." >&2
    exit 0
fi
echo "system deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    echo "system deps: apt-get install ${need[*]} failed; continuing with what is present" >&2
fi
exit 0
