#!/usr/bin/env bash
# Applies the runtime settings polyarb's hot cores want (docs/tuning.md): performance governor on
# the hot cores, THP madvise, vm.swappiness <= 10, every IRQ that may move (NIC queues included)
# off the hot cores, irqbalance stopped, net.core.busy_poll/busy_read 50. Idempotent: a second
# run prints "OK <path> already <value>" and changes nothing. Before the first change it saves
# every value it will change to a snapshot (path=value lines) that tuning/revert.sh restores.
# What it cannot write is "SKIP <what>: <reason>", never an error. Lost at reboot: the tuned
# profile (tuning/tuned/polyarb) or sysctl.d make them stick; the kernel command line it prints
# at the end needs a reboot.
#
# Usage: tuning/apply.sh [--cores LIST] [--dry-run] [--snapshot FILE]
#   --cores LIST     the hot cores ("2-3,5"); default: the cores the kernel isolates
#   --dry-run        print "WOULD <path>: <old> -> <new>", change nothing, write no snapshot
#   --snapshot FILE  default /var/lib/polyarb/tuning-snapshot, or under $XDG_STATE_HOME
# Exit status: 0 done (SKIPs included), 2 usage error.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

usage() {
  echo "usage: tuning/apply.sh [--cores LIST] [--dry-run] [--snapshot FILE]" >&2
  exit 2
}

cores_arg="" dry=0 snap=""
while (($#)); do
  case $1 in
    --cores) (($# >= 2)) || usage; cores_arg=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --snapshot) (($# >= 2)) || usage; snap=$2; shift 2 ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "apply.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n $snap ]] || snap=$(default_snapshot)

online=$(online_cpus)
if [[ -n $cores_arg ]]; then
  if ! cpulist_valid "$cores_arg"; then
    echo "apply.sh: --cores '$cores_arg' is not a CPU list (like 2-3,5)" >&2
    exit 2
  fi
  hot=$(cpulist_expand "$cores_arg" | cpulist_compress)
  if [[ -n $online ]] && ! cpulist_subset "$hot" "$online"; then
    echo "apply.sh: --cores $hot: cpu $(cpulist_minus "$hot" "$online") is not online (online: $online)" >&2
    exit 2
  fi
else
  hot=$(cat "$cpu_sys/isolated" 2>/dev/null || true)
  [[ -n $hot ]] || hot=$(isolcpus_list "$(cmdline_param isolcpus)")
fi
housekeeping=""
if [[ -n $hot ]]; then
  housekeeping=$(cpulist_minus "${online:-$hot}" "$hot")
  if [[ -z $housekeeping ]]; then
    echo "apply.sh: hot cores $hot leave no online core (online: $online) for housekeeping and IRQs" >&2
    exit 2
  fi
  echo "hot cores $hot, housekeeping $housekeeping$([[ $dry == 1 ]] && echo ", dry run")"
else
  echo "no hot cores (none isolated, no --cores): per-core steps are skipped$([[ $dry == 1 ]] && echo "; dry run")"
fi

# --- plan: what differs from the wanted value and can be written ------------------------------
paths=() olds=() news=() notes=()
plan() { # path new [label [note]]: OK, SKIP, or queue the change
  local path=$1 new=$2 label=${3:-$1} note=${4:-} cur
  if ! cur=$(setting_read "$path"); then
    echo "SKIP $label: $path unreadable or absent"
  elif [[ $(setting_norm "$path" "$cur") == "$(setting_norm "$path" "$new")" ]]; then
    echo "OK $path already $cur"
  elif [[ ! -w $path ]]; then
    echo "SKIP $label: $path not writable (needs root, or read-only here)"
  else
    paths+=("$path") olds+=("$cur") news+=("$new") notes+=("$note")
  fi
}

# irqbalance first: left running it moves IRQs back onto the hot cores within seconds.
if systemd_active irqbalance; then
  paths+=(systemd-unit:irqbalance.service) olds+=(active) news+=(inactive) notes+=("")
elif command -v pgrep >/dev/null 2>&1 && pgrep -x irqbalance >/dev/null 2>&1; then
  echo "SKIP irqbalance: runs outside systemd; stop it, or set IRQBALANCE_BANNED_CPULIST=${hot:-<hot cores>} in /etc/default/irqbalance"
else
  echo "OK irqbalance already not running"
fi

if [[ -z $hot ]]; then
  echo "SKIP governor: no hot cores"
else
  for c in $(cpulist_expand "$hot"); do
    f="$cpu_sys/cpu$c/cpufreq/scaling_governor"
    if [[ ! -e $f ]]; then
      echo "SKIP governor cpu$c: no cpufreq (no frequency driver; usual in a VM)"
    elif ! grep -qw performance "$cpu_sys/cpu$c/cpufreq/scaling_available_governors" 2>/dev/null; then
      echo "SKIP governor cpu$c: performance not among $(cat "$cpu_sys/cpu$c/cpufreq/scaling_available_governors" 2>/dev/null || echo "?")"
    else
      plan "$f" performance "governor cpu$c"
    fi
  done
fi

plan /sys/kernel/mm/transparent_hugepage/enabled madvise thp

f=/proc/sys/vm/swappiness
if v=$(setting_read "$f") && [[ $v =~ ^[0-9]+$ ]] && ((v <= 10)); then
  echo "OK $f already $v"
else
  plan "$f" 10 vm.swappiness
fi

for key in busy_poll busy_read; do plan "/proc/sys/net/core/$key" 50 "net.core.$key"; done

if [[ -z $hot ]]; then
  echo "SKIP irq affinity: no hot cores"
else
  nic_irq_list=" "
  for n in $(nic_names); do
    for i in $(nic_irqs "$n"); do nic_irq_list+="$i:$n "; done
  done
  # New IRQs take default_smp_affinity, a hex mask.
  plan /proc/irq/default_smp_affinity "$(cpulist_mask "$housekeeping")" "default irq affinity"
  for d in /proc/irq/[0-9]*; do
    [[ -e $d/smp_affinity_list ]] || continue
    i=${d##*/}
    label="irq $i" note=""
    if [[ $nic_irq_list == *" $i:"* ]]; then
      n=${nic_irq_list#* "$i":}
      note=" (NIC ${n%% *})"
      label+=$note
    fi
    cur=$(setting_read "$d/smp_affinity_list" || true)
    if ! cpulist_valid "$cur"; then
      echo "SKIP $label: $d/smp_affinity_list unreadable"
      continue
    fi
    # Keep the housekeeping cores the IRQ already has; otherwise give it all of them.
    new=$(cpulist_minus "$cur" "$hot")
    plan "$d/smp_affinity_list" "${new:-$housekeeping}" "$label" "$note"
  done
fi

# --- snapshot, then change ----------------------------------------------------------------
# A path already in the snapshot keeps its first (original) value: a later run changing it again
# must not overwrite what revert.sh restores.
write_snapshot() {
  local dir tmp k
  dir=$(dirname "$snap")
  if [[ ! -d $dir ]]; then mkdir -p "$dir" && chmod 0700 "$dir" || return 1; fi
  tmp=$(mktemp "$snap.XXXXXX") || return 1
  {
    if [[ -s $snap ]]; then
      cat "$snap"
    else
      echo "# polyarb tuning snapshot: tuning/apply.sh, $(date -u +%FT%TZ); tuning/revert.sh restores it"
    fi
    for k in "${!paths[@]}"; do
      if ! awk -F= -v p="${paths[k]}" '$1 == p { found = 1 } END { exit !found }' "$snap" 2>/dev/null; then
        echo "${paths[k]}=${olds[k]}"
      fi
    done
  } >"$tmp" || { rm -f "$tmp"; return 1; }
  mv "$tmp" "$snap" || { rm -f "$tmp"; return 1; }
}

if ((${#paths[@]} == 0)); then
  echo "nothing to change"
elif ((dry)); then
  for k in "${!paths[@]}"; do echo "WOULD ${paths[k]}: ${olds[k]} -> ${news[k]}${notes[k]}"; done
  echo "dry run: changed nothing; the snapshot would go to $snap"
else
  saved=0
  if err=$(write_snapshot 2>&1); then
    saved=1
    echo "snapshot: $snap"
  fi
  err=$(printf '%s' "$err" | tr '\n' ' ')
  for k in "${!paths[@]}"; do
    path=${paths[k]} old=${olds[k]} new=${news[k]}
    if ((!saved)); then
      echo "SKIP $path: no snapshot could be saved to $snap (${err:-unknown error}); nothing changed"
    elif [[ $path == systemd-unit:* ]]; then
      unit=${path#systemd-unit:}
      if systemctl stop "$unit" 2>/dev/null; then
        echo "SET $path: $old -> $new (stopped; 'systemctl disable $unit' keeps it off after reboot)"
      else
        echo "SKIP $path: systemctl stop $unit failed"
      fi
    elif reason=$(setting_write "$path" "$new"); then
      now=$(setting_read "$path" || echo "?")
      if [[ $(setting_norm "$path" "$now") == "$(setting_norm "$path" "$new")" ]]; then
        echo "SET $path: $old -> $new${notes[k]}"
      else
        echo "SKIP $path: wrote $new, the kernel reports $now"
      fi
    else
      echo "SKIP $path: $reason"
    fi
  done
fi

# --- what needs a reboot --------------------------------------------------------------------
echo
echo "needs a reboot: the kernel command line (isolation, tickless, RCU callbacks, IRQ default)"
if [[ -n $hot ]]; then
  "$here/cmdline.sh" --cores "$hot" --housekeeping "$housekeeping" | sed 's/^/  /'
else
  echo "  run tuning/cmdline.sh --cores LIST for the parameters of your hot cores"
fi
