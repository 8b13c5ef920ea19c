#!/usr/bin/env bash
# Servers and clients the database tests and benchmark need: MariaDB (mariadb-install-db,
# mariadbd, mariadb, mariadb-admin) and PostgreSQL 15 (initdb, postgres, pg_isready, psql,
# pg_stat_statements). The tests start their own instances; nothing is started here.
# Also setpriv (util-linux) to run postgres as the postgres user. Idempotent.
set -euo pipefail

need=()
command -v mariadb-install-db >/dev/null 2>&1 && [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 && command -v mariadb-admin >/dev/null 2>&1 || need+=(mariadb-client)
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -f /usr/lib/postgresql/15/lib/pg_stat_statements.so ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)

if [ "${#need[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # The packages start system instances on install; the tests do not use them.
    apt-get install -y --no-install-recommends "${need[@]}"
fi
id postgres >/dev/null 2>&1 || { echo "db.sh: the postgres user is missing after installing postgresql-15" >&2; exit 1; }
echo "db.sh: MariaDB and PostgreSQL 15 binaries are present"
