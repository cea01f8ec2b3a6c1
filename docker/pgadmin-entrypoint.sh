#!/bin/sh
# pgAdmin's container entrypoint, after writing the libpq passfile its preloaded server uses.
#
# docker/pgadmin-servers.json names `"passfile": "/pgpass"`; in server mode pgAdmin resolves that in the
# login's storage folder, /var/lib/pgadmin/storage/<e-mail with @ as _>/ (as stack/pgadmin.py does
# natively). Written at every start from WAREHOUSE_READER_PASSWORD (from `.env`), mode 600 (libpq ignores
# a passfile others can read), so the warehouse opens without a password prompt. The image's own
# entrypoint (/entrypoint.sh) then initialises pgAdmin on first start and loads the servers file.
set -eu

: "${PGADMIN_DEFAULT_EMAIL:?}" "${WAREHOUSE_READER_PASSWORD:?}"

# pgAdmin's storage folder name for a login (pgadmin/utils/paths.py, preprocess_username).
user_dir=$(printf '%s' "$PGADMIN_DEFAULT_EMAIL" | sed -e 's/@/_/g' -e 's#/#slash#g' -e 's#\\#slash#g')
case "$user_dir" in
    [0-9]*) user_dir="pga_user_$user_dir" ;;
esac
storage="/var/lib/pgadmin/storage/$user_dir"

# A passfile field escapes \ and : with a backslash.
password=$(printf '%s' "$WAREHOUSE_READER_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/:/\\:/g')
umask 077
mkdir -p "$storage"
printf 'postgres:5432:*:warehouse_reader:%s\n' "$password" >"$storage/pgpass"
unset password WAREHOUSE_READER_PASSWORD

exec /entrypoint.sh "$@"
