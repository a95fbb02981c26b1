#!/usr/bin/env bash
# Installs the map benchmark's peers (Debian packages) when running as root
# and one is missing. Safe to re-run; does nothing when all are present.
set -u
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -e /usr/include/absl/container/flat_hash_map.h ] || need+=(libabsl-dev)
[ -e /usr/include/uthash.h ] || need+=(uthash-dev)
[ -e /usr/include/stb/stb_ds.h ] || [ -e /usr/include/stb_ds.h ] || need+=(libstb-dev)
pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "bench/map: missing peers (${need[*]}); run as root to install them" >&2
    exit 0
fi
echo "bench/map: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    echo "bench/map: apt-get install failed; missing peers are skipped" >&2
exit 0
