#!/usr/bin/env bash
# The installed form, tested (part of `make test`): the release binaries load no library of the
# Swift toolchain and run with the toolchain out of reach; the Debian package installs, its
# daemon starts as the antema user and stops cleanly, and it uninstalls (purge) leaving the
# database. Needs root and dpkg (skipped with a message otherwise). Leaves the system as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test-package: $*"; }
if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null; then say "skipped: needs root and dpkg"; exit 0; fi
if dpkg -s antema >/dev/null 2>&1; then say "skipped: an antema package is installed on this machine (not touched)"; exit 0; fi
bin="$(bash scripts/build-release.sh)"
say "static Swift runtime: no toolchain library in ldd (checked by build-release.sh)"
work="$(mktemp -d)"
had_user=0; id antema >/dev/null 2>&1 && had_user=1
had_state=0; [ -e /var/lib/antema ] && had_state=1
cleanup() {
  dpkg --purge antema >/dev/null 2>&1 || true
  [ "$had_user" = 1 ] || userdel antema >/dev/null 2>&1 || true
  [ "$had_state" = 1 ] || rm -rf /var/lib/antema
  rm -rf "$work"
}
trap cleanup EXIT
# the binaries run with nothing of the toolchain reachable
cp "$bin/antemactl" "$bin/antemad" "$work/"
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= "$work/antemactl" --version | grep -q . || { say "antemactl does not run outside the toolchain"; exit 1; }
env -i PATH=/usr/bin:/bin "$work/antemad" --version | grep -q . || { say "antemad does not run outside the toolchain"; exit 1; }
deb="$(bash scripts/deb.sh)"
say "built $deb ($(du -h "$deb" | cut -f1))"
dpkg -i "$deb" >/dev/null
for f in /usr/bin/antemad /usr/bin/antemactl /usr/lib/systemd/system/antemad.service /etc/antema/config.toml \
         /usr/share/man/man1/antemactl.1.gz /usr/share/bash-completion/completions/antemactl /usr/share/antema/models/antema-unet.onnx /usr/share/antema/models/antema-unet-instance.onnx; do
  [ -e "$f" ] || { say "missing after install: $f"; exit 1; }
done
grep -q '^ExecStart=/usr/bin/antemad ' /usr/lib/systemd/system/antemad.service || { say "unit does not start /usr/bin/antemad"; exit 1; }
id antema >/dev/null || { say "no antema user"; exit 1; }
# the installed daemon starts as antema on a folder of its own and stops cleanly on SIGTERM
mkdir -p "$work/run/export/S1"
cat > "$work/run/config.toml" <<CONFIG
[watch]
roots = ["$work/run/export"]
stable_seconds = 0.5
[store]
database = "$work/run/antema.sqlite"
[analysis]
segmenter = "classical"
CONFIG
chown -R antema: "$work/run"; chmod 0755 "$work"
env -i PATH=/usr/bin:/bin /usr/bin/antemactl example-micrograph "$work/m.dm3" --size 128 --particles 4 >/dev/null
setpriv --reuid=antema --regid=antema --init-groups /usr/bin/antemad --config "$work/run/config.toml" 2> "$work/antemad.log" &
pid=$!
sleep 2; cp "$work/m.dm3" "$work/run/export/S1/m.dm3"; chown antema: "$work/run/export/S1/m.dm3"
for _ in $(seq 60); do
  n="$(/usr/bin/antemactl query "SELECT COUNT(*) FROM image WHERE state = 'done'" --db "$work/run/antema.sqlite" --format csv 2>/dev/null | tail -1 || true)"
  [ "$n" = 1 ] && break; sleep 0.5
done
kill -TERM "$pid"; wait "$pid" || { say "antemad did not stop cleanly"; cat "$work/antemad.log"; exit 1; }
[ "$n" = 1 ] || { say "the installed daemon did not analyse the image"; cat "$work/antemad.log"; exit 1; }
say "installed antemad analysed an image as user antema and stopped with status 0"
dpkg --purge antema >/dev/null
for f in /usr/bin/antemad /usr/bin/antemactl /usr/lib/systemd/system/antemad.service /etc/antema/config.toml; do
  [ ! -e "$f" ] || { say "left after purge: $f"; exit 1; }
done
[ -f "$work/run/antema.sqlite" ] || { say "the database went with the package"; exit 1; }
say "ok: installed, started, stopped, purged (the database kept)"
