#!/usr/bin/env bash
# The TLS tests and `npm run rehearsal` put Debian's HAProxy in front of the nodes, with a
# certificate made by openssl. Install both when missing and we may (root with apt-get);
# otherwise say clearly what to do.
set -euo pipefail
missing=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} for the TLS tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "The TLS tests need ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
