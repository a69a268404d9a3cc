#!/usr/bin/env bash
# The newcomer's first run: starts antemad on a local demo folder with a demo configuration,
# drops a few synthetic micrographs (written by antema's own DM3 writer) into a sample folder,
# closes the session with a marker file, and shows what antemactl says. Cleans up on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
demo="$PWD/.demo"
bin="$PWD/.build/debug"
rm -rf "$demo"
mkdir -p "$demo/export" "$demo/incoming"
cat > "$demo/config.toml" <<TOML
[watch]
roots = ["$demo/export"]
stable_seconds = 1
[session]
idle_close_minutes = 5
[store]
database = "$demo/antema.sqlite"
[reports]
directory = "{sample_folder}/antema-report"
TOML
"$bin/antemactl" config check "$demo/config.toml"

"$bin/antemad" --config "$demo/config.toml" 2> "$demo/antemad.log" &
daemon=$!
cleanup() { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
sleep 1

sample="$demo/export/Au-citrate-01"
mkdir -p "$sample"
for i in 1 2 3; do
  # write elsewhere, then move into place, as careful export tools do
  "$bin/antemactl" example-micrograph "$demo/incoming/image-$i.dm3" --size 512 --particles 30 --mean-diameter 4 --seed "$i" >/dev/null
  mv "$demo/incoming/image-$i.dm3" "$sample/"
  echo "dropped image-$i.dm3 into $sample"
done
touch "$sample/session.done"
echo "closing the session with $sample/session.done ..."
for _ in $(seq 1 60); do
  state=$("$bin/antemactl" query "SELECT state FROM sample WHERE name = 'Au-citrate-01'" --db "$demo/antema.sqlite" --format csv 2>/dev/null | tail -n +2 | tr -d '\r')
  [ "$state" = "reported" ] && break
  sleep 1
done
echo
"$bin/antemactl" status --config "$demo/config.toml"
echo
"$bin/antemactl" samples --config "$demo/config.toml"
echo
echo "report: $sample/antema-report/ ($(ls "$sample/antema-report" | tr '\n' ' '))"
echo "database: $demo/antema.sqlite   daemon log: $demo/antemad.log"
echo "try: $bin/antemactl show Au-citrate-01 --config $demo/config.toml"
