#!/usr/bin/env bash
# The multi-host rehearsal (`npm run rehearsal -- --hosts`, and its short form in `npm test`)
# runs every node, PostgreSQL and HAProxy in a network namespace of its own: it needs iproute2
# (ip, tc), iptables (partitions; NFQUEUE for latency where the kernel lacks netem), tini (each
# node's PID 1), util-linux (unshare, setpriv) and python3 (the NFQUEUE delayer). Install what is
# missing when we may (root with apt-get); otherwise say clearly what to do.
set -euo pipefail
declare -A pkg=([ip]=iproute2 [tc]=iproute2 [iptables]=iptables [tini]=tini [unshare]=util-linux [setpriv]=util-linux [python3]=python3)
missing=()
for cmd in "${!pkg[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing+=("${pkg[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} for the multi-host rehearsal…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "The multi-host rehearsal needs ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
