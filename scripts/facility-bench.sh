#!/usr/bin/env bash
# Facility benchmark (issue 21): a throw-away PostgreSQL server (Debian's postgresql, a
# temporary folder, a free loopback port), then FacilityBench (release): 1,000 images of 200
# particles from three daemons' stores shipped into it, and the samples listing over 5 million
# particles. Usage: scripts/facility-bench.sh [images] [particles-per-image] [listing-particles]
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-1000}; particles=${2:-200}; listing=${3:-5000000}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/antema-pg-bench-XXXXXX)
chmod 755 "$dir"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "bench-admin" > "$dir/pw"; echo "bench-writer" > "$dir/writer"; chmod 600 "$dir/writer"
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pw"
cleanup() { as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$bin/initdb" -D "$dir/data" -U admin --auth=scram-sha-256 --pwfile="$dir/pw" -E UTF8 --locale=C --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=50" >/dev/null
PGPASSWORD=bench-admin psql -X -q -h 127.0.0.1 -p "$port" -U admin -d postgres -c "CREATE ROLE antema LOGIN PASSWORD 'bench-writer'" -c "CREATE DATABASE antema OWNER antema"
config=${CONFIG:-release}   # CONFIG=debug for a quick check of the script itself
swift build -c "$config" --product FacilityBench >/dev/null
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync on, defaults), $(nproc) cores"
".build/$config/FacilityBench" --url "postgresql://antema@127.0.0.1:$port/antema?sslmode=disable" --password-file "$dir/writer" \
  --images "$images" --particles "$particles" --listing-particles "$listing"
