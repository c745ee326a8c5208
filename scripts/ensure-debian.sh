#!/usr/bin/env bash
# What the tests and the rehearsals need from Debian, installed in one go when missing and we
# may (root with apt-get); otherwise one line says what to run.
#   chromium            the browser tests (driven by playwright-core, no browser download)
#   haproxy, openssl    the TLS tests and `npm run rehearsal` (HAProxy ends TLS, openssl makes the certificate)
#   postgresql          the storage tests start private PostgreSQL servers (initdb, pg_ctl)
#   prometheus          promtool checks and unit-tests the shipped alerting rules, and a private
#                       Prometheus server scrapes a node to run the Grafana dashboard's queries
#   iproute2, iptables, tini, util-linux, python3
#                       the multi-host rehearsal: network namespaces, partitions and latency,
#                       tini as each node's PID 1, unshare/setpriv, the NFQUEUE delayer
#   faketime            a node whose clock is set wrong (libfaketime), in the network-cut test
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
need=()
have chromium || [ -x /usr/bin/chromium ] || need+=(chromium)
have haproxy || need+=(haproxy)
have openssl || need+=(openssl)
{ have promtool && have prometheus; } || need+=(prometheus)
postgres=no
for bin in /usr/lib/postgresql/*/bin; do
  if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then postgres=yes; fi
done
if [ "$postgres" = no ] && ! { have initdb && have pg_ctl; }; then need+=(postgresql); fi
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(faketime)
for pair in ip:iproute2 tc:iproute2 iptables:iptables tini:tini unshare:util-linux setpriv:util-linux python3:python3; do
  have "${pair%%:*}" || need+=("${pair#*:}")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} for the tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A mirror that drops a download now and then gets two more tries.
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; then break; fi
    if [ "$attempt" = 3 ]; then exit 1; fi
    echo "apt-get failed (attempt $attempt of 3); trying again in 15 s" >&2
    sleep 15
  done
else
  echo "The tests need ${need[*]}: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
