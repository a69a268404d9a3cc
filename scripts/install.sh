#!/usr/bin/env bash
# Installs antemad and antemactl (release build, static Swift standard library), the bundled
# models, the systemd unit, a drop-in for site settings, man pages, shell completions, a user and
# the default configuration. Run as root from the repository root. Idempotent and safe to run
# again for an upgrade: /etc/antema/config.toml and the drop-in
# /etc/systemd/system/antemad.service.d/site.conf are kept; the database is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
bash scripts/install-deps.sh
bin="$(bash scripts/build-release.sh)"
bash scripts/stage.sh "$bin" "$destdir" "$prefix"
if [ -z "$destdir" ]; then
  id antema >/dev/null 2>&1 || useradd --system --home-dir /var/lib/antema --shell /usr/sbin/nologin antema
  if [ -f /etc/systemd/system/antemad.service ]; then
    echo "note: /etc/systemd/system/antemad.service (from an earlier install) overrides the unit installed now;"
    echo "      move your settings into /etc/systemd/system/antemad.service.d/site.conf and remove it."
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl try-restart antemad.service || true
    echo "installed. Edit /etc/antema/config.toml (watch.roots) and site.conf (ReadWritePaths), then: systemctl enable --now antemad"
  else
    echo "installed (systemd is not running here: enable the unit where it is)."
  fi
fi
