#!/usr/bin/env bash
# The README's test command: build (or reuse) each host, then run the whole suite inside it.
# Hosts: the pinned ComfyUI 0.3.75, then ComfyUI 0.7.0 and 0.33.0 when ../shared/hosts holds their
# archives. VIDEOCANVAS_HOST=0.3.75|0.7.0|0.33.0 (or VIDEOCANVAS_COMFYUI=/path/to/ComfyUI) runs one
# host only; VIDEOCANVAS_REQUIRE_ALL_HOSTS=1 (CI) fails instead of skipping a host whose source is
# missing.
set -uo pipefail
cd "$(dirname "$0")/.."

run_host() {  # $1: host name; the rest: pytest arguments
    local host=$1; shift
    local py
    py=$(VIDEOCANVAS_HOST=$host python3 -m hostkit.setup --print python) || return 1
    echo "[test] ComfyUI $host: $py -m pytest $*" >&2
    VIDEOCANVAS_HOST=$host "$py" -m pytest "$@"
}

if [[ -n "${VIDEOCANVAS_HOST:-}" || -n "${VIDEOCANVAS_COMFYUI:-}" ]]; then
    run_host "${VIDEOCANVAS_HOST:-0.3.75}" "$@"
    exit $?
fi

archives=${VIDEOCANVAS_HOST_ARCHIVES:-../shared/hosts}
summary=()
failed=0
for host in 0.3.75 0.7.0 0.33.0; do
    if python3 -m hostkit.setup --available "$host"; then
        run_host "$host" "$@"; rc=$?
        summary+=("ComfyUI $host: exit $rc")
    elif [[ -n "${VIDEOCANVAS_REQUIRE_ALL_HOSTS:-}" ]]; then
        rc=1
        summary+=("ComfyUI $host: MISSING (no archive at $archives/comfyui-$host.tar.gz; required here)")
    else
        rc=0
        summary+=("ComfyUI $host: SKIPPED (no archive at $archives/comfyui-$host.tar.gz)")
    fi
    [[ $rc -eq 0 ]] || failed=1
done
(IFS=';'; echo "[test] ${summary[*]}" | sed 's/;/; /g') >&2
[[ $failed -eq 0 ]]
