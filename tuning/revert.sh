#!/usr/bin/env bash
# Restores every value tuning/apply.sh saved in its snapshot (path=value lines). What it cannot
# write is "SKIP <path>: <reason>"; a line naming anything apply.sh does not change is refused.
# After a restore with no SKIP the snapshot is renamed to FILE.reverted, so the next apply.sh
# saves the values of that moment.
#
# Usage: tuning/revert.sh [--snapshot FILE] [--dry-run]
#   --snapshot FILE  default: the one apply.sh uses (/var/lib/polyarb/tuning-snapshot, or
#                    under $XDG_STATE_HOME when that is not writable)
#   --dry-run        print "WOULD <path>: <now> -> <saved>", change nothing
# Exit status: 0 done (SKIPs included) or no snapshot at the default place, 2 usage error.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

usage() {
  echo "usage: tuning/revert.sh [--snapshot FILE] [--dry-run]" >&2
  exit 2
}

snap="" dry=0
while (($#)); do
  case $1 in
    --snapshot) (($# >= 2)) || usage; snap=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "revert.sh: unknown argument: $1" >&2; usage ;;
  esac
done
if [[ -z $snap ]]; then
  snap=$(default_snapshot)
  if [[ ! -e $snap ]]; then
    echo "SKIP revert: no snapshot at $snap (apply.sh has changed nothing, or it was reverted)"
    exit 0
  fi
fi
if [[ ! -r $snap ]]; then
  echo "revert.sh: cannot read snapshot $snap" >&2
  exit 2
fi

skipped=0 n=0
while IFS= read -r line || [[ -n $line ]]; do
  [[ -z $line || $line == \#* ]] && continue
  n=$((n + 1))
  path=${line%%=*} saved=${line#*=}
  if [[ $line != *=* ]] || ! setting_allowed "$path"; then
    echo "SKIP $path: not a setting apply.sh changes; refused"
    skipped=1
    continue
  fi
  if [[ $path == systemd-unit:* ]]; then
    unit=${path#systemd-unit:}
    if [[ $saved != active ]]; then
      echo "OK $path saved as $saved: nothing to start"
    elif systemd_active "$unit"; then
      echo "OK $path already active"
    elif [[ ! -d /run/systemd/system ]]; then
      echo "SKIP $path: systemd is not the init system here; start irqbalance by hand"
      skipped=1
    elif ((dry)); then
      echo "WOULD $path: inactive -> active"
    elif systemctl start "$unit" 2>/dev/null; then
      echo "SET $path: inactive -> active"
    else
      echo "SKIP $path: systemctl start $unit failed"
      skipped=1
    fi
    continue
  fi
  if ! cur=$(setting_read "$path"); then
    echo "SKIP $path: unreadable or absent"
    skipped=1
  elif [[ $(setting_norm "$path" "$cur") == "$(setting_norm "$path" "$saved")" ]]; then
    echo "OK $path already $cur"
  elif [[ ! -w $path ]]; then
    echo "SKIP $path: not writable (needs root, or read-only here)"
    skipped=1
  elif ((dry)); then
    echo "WOULD $path: $cur -> $saved"
  elif reason=$(setting_write "$path" "$saved"); then
    echo "SET $path: $cur -> $saved"
  else
    echo "SKIP $path: $reason"
    skipped=1
  fi
done <"$snap"

if ((dry)); then
  echo "dry run: changed nothing ($n values in $snap)"
elif ((skipped)); then
  echo "some values were not restored; $snap is kept for another try"
elif mv "$snap" "$snap.reverted" 2>/dev/null; then
  echo "restored $n values; snapshot renamed to $snap.reverted"
else
  echo "restored $n values; could not rename $snap"
fi
