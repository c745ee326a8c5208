#!/usr/bin/env bash
# The storage tests start a private PostgreSQL server from Debian's postgresql package
# (initdb and pg_ctl, which Debian keeps in /usr/lib/postgresql/<version>/bin). Install it when
# it is missing and we may (root with apt-get); otherwise say clearly what to do.
set -euo pipefail
for bin in /usr/lib/postgresql/*/bin; do
  if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then exit 0; fi
done
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql for the storage tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
else
  echo "The storage tests need PostgreSQL's server binaries: sudo apt-get install -y postgresql" >&2
  exit 1
fi
