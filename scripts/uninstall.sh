#!/usr/bin/env bash
# Removes what `make install` installed. Keeps the configuration (/etc/antema), the site
# drop-in and the database (/var/lib/antema) unless PURGE=1 (which still keeps the database:
# remove /var/lib/antema by hand once it is backed up with `antemactl backup`).
set -euo pipefail
prefix="${PREFIX:-/usr/local}"
if [ -d /run/systemd/system ]; then systemctl disable --now antemad.service 2>/dev/null || true; fi
rm -f "$prefix/bin/antemad" "$prefix/bin/antemactl" "$prefix/lib/systemd/system/antemad.service" \
  "$prefix/share/bash-completion/completions/antemactl" "$prefix/share/zsh/vendor-completions/_antemactl" \
  "$prefix/share/fish/vendor_completions.d/antemactl.fish" "$prefix"/share/man/man1/antemactl*.1.gz "$prefix"/share/man/man1/antemad*.1.gz
rm -rf "$prefix/share/antema" "$prefix/share/doc/antema"
if [ "${PURGE:-0}" = 1 ]; then rm -rf /etc/antema /etc/systemd/system/antemad.service.d; fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "antema removed; kept: /var/lib/antema (the database)$([ "${PURGE:-0}" = 1 ] || echo ', /etc/antema and the site drop-in')"
