#!/usr/bin/env bash
# The Debian packages `make test` needs beyond Python and Node.js, installed when missing: wrk (load
# tests), PostgreSQL with PostGIS (the second backend: the tests start a private cluster on loopback;
# unaccent comes with the server; pgbouncer, the pooler the several-servers test puts in front of it),
# the sqlite3 shell (benchmark baseline) and Chromium (the website's
# browser tests drive it through Playwright). The local geocoder, Addok and its Redis, comes from PyPI
# (tests/addok_server.py). Run by `make test` and `.ci/run`; does nothing when all are there.
set -euo pipefail

packages=()
command -v sqlite3 >/dev/null 2>&1 || packages+=(sqlite3)
command -v make >/dev/null 2>&1 || packages+=(make)
command -v wrk >/dev/null 2>&1 || packages+=(wrk)
[ -x "${ANNUAIRE_CHROMIUM:-/usr/bin/chromium}" ] || packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ -z "${ANNUAIRE_TEST_POSTGRES_URL:-}" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || packages+=(postgresql-postgis)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || packages+=(pgbouncer)
fi
[ "${#packages[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing for the tests: ${packages[*]} (install them with your system's package manager)" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "missing for the tests: ${packages[*]}; as root: apt-get install ${packages[*]}" >&2
  exit 1
fi
echo "installing Debian packages for the tests: ${packages[*]}" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
# Debian starts a PostgreSQL on 5432 when it installs one: the tests start their own on a free port.
