#!/usr/bin/env bash
# Read-only check of the host settings polyarb's pinned hot stages rely on (docs/tuning.md).
# One line per check: "PASS|FAIL|SKIP <name>: <found> (<wanted, or why skipped>)". Changes
# nothing; runs as any user, in a VM or a container: what it cannot read is a SKIP.
#
# Usage: tuning/check.sh [--json FILE] [--cores LIST]
#   --cores LIST  the hot cores ("2-3,5"); default: the cores the kernel isolates
#   --json FILE   also write the results as a JSON array of {check, status, found, wanted}
# Exit status: 0 no FAIL, 1 at least one FAIL, 2 usage error.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

usage() {
  echo "usage: tuning/check.sh [--json FILE] [--cores LIST]" >&2
  exit 2
}

json="" cores_arg=""
while (($#)); do
  case $1 in
    --json) (($# >= 2)) || usage; json=$2; shift 2 ;;
    --cores) (($# >= 2)) || usage; cores_arg=$2; shift 2 ;;
    -h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown argument: $1" >&2; usage ;;
  esac
done

online=$(online_cpus)
if [[ -n $cores_arg ]]; then
  if ! cpulist_valid "$cores_arg"; then
    echo "check.sh: --cores '$cores_arg' is not a CPU list (like 2-3,5)" >&2
    exit 2
  fi
  hot=$(cpulist_expand "$cores_arg" | cpulist_compress)
  if [[ -n $online ]] && ! cpulist_subset "$hot" "$online"; then
    echo "check.sh: --cores $hot: cpu $(cpulist_minus "$hot" "$online") is not online (online: $online)" >&2
    exit 2
  fi
else
  hot=$(cat "$cpu_sys/isolated" 2>/dev/null || true)
  if [[ -z $hot ]]; then
    hot=$(isolcpus_list "$(cmdline_param isolcpus)")
  fi
fi
# Per-core checks look at the hot cores, or at every online core when none is known.
scope=${hot:-$online}

names=() statuses=() founds=() wanteds=()
failed=0
report() { # status name found wanted
  printf '%s %s: %s (%s)\n' "$1" "$2" "$3" "$4"
  statuses+=("$1") names+=("$2") founds+=("$3") wanteds+=("$4")
  if [[ $1 == FAIL ]]; then failed=1; fi
}

isnum() { [[ $1 =~ ^[0-9]+$ ]]; }
readval() { # prints the first line of file $1, or fails if unreadable
  local v
  [[ -r $1 ]] || return 1
  IFS= read -r v 2>/dev/null <"$1" || [[ -n ${v:-} ]] || return 1
  printf '%s' "$v"
}

# --- kernel command line -------------------------------------------------------------------
if [[ ! -r /proc/cmdline ]]; then
  for key in isolcpus nohz_full rcu_nocbs irqaffinity; do
    report SKIP "$key" "/proc/cmdline unreadable" "cannot see the kernel command line"
  done
else
  no_hot="no hot cores: none is isolated and no --cores given"
  for key in isolcpus nohz_full rcu_nocbs; do
    val=$(cmdline_param "$key")
    list=$val
    if [[ $key == isolcpus ]]; then list=$(isolcpus_list "$val"); fi
    want="$key covering the hot cores${hot:+ $hot}"
    if [[ -z $hot ]]; then
      report FAIL "$key" "${val:-not set}" "$no_hot"
    elif [[ -z $val ]]; then
      report FAIL "$key" "not set" "$want"
    elif cpulist_valid "$list" && cpulist_subset "$hot" "$list"; then
      report PASS "$key" "$key=$val" "$want"
    else
      report FAIL "$key" "$key=$val" "$want"
    fi
  done
  val=$(cmdline_param irqaffinity)
  want="irqaffinity= housekeeping cores only, none of${hot:+ $hot}"
  if [[ -z $hot ]]; then
    report FAIL irqaffinity "${val:-not set}" "$no_hot"
  elif [[ -z $val ]]; then
    report FAIL irqaffinity "not set" "$want"
  elif cpulist_valid "$val" && [[ -z $(cpulist_and "$val" "$hot") ]]; then
    report PASS irqaffinity "irqaffinity=$val" "$want"
  else
    report FAIL irqaffinity "irqaffinity=$val" "$want"
  fi
fi

# --- SMT -----------------------------------------------------------------------------------
# A busy sibling hyperthread shares the core's caches and execution ports with the hot stage.
if ! smt=$(readval "$cpu_sys/smt/control"); then
  report SKIP smt "$cpu_sys/smt/control absent" "kernel does not report SMT"
else
  case $smt in
    off | forceoff | notsupported | notimplemented)
      report PASS smt "control=$smt" "no sibling threads share a hot core" ;;
    *)
      if [[ -z $hot ]]; then
        report FAIL smt "control=$smt" "SMT off, or the hot cores' siblings idle; $no_hot"
      else
        busy="" isolated=$(cat "$cpu_sys/isolated" 2>/dev/null || true)
        for c in $(cpulist_expand "$hot"); do
          sib=$(readval "$cpu_sys/cpu$c/topology/thread_siblings_list" || true)
          for s in $(cpulist_expand "${sib:-$c}" 2>/dev/null || true); do
            ((s == c)) && continue
            # Idle = offline, or isolated and not itself a hot core (nothing is scheduled there).
            if [[ -n $(cpulist_and "$s" "$online") ]] &&
              { [[ -n $(cpulist_and "$s" "$hot") ]] || [[ -z $(cpulist_and "$s" "$isolated") ]]; }; then
              busy+="${busy:+, }cpu$c~cpu$s"
            fi
          done
        done
        if [[ -z $busy ]]; then
          report PASS smt "control=$smt; hot cores' siblings offline or isolated" "SMT off, or the hot cores' siblings idle"
        else
          report FAIL smt "control=$smt; siblings in use: $busy" "SMT off, or the hot cores' siblings offline or isolated and unused"
        fi
      fi ;;
  esac
fi

# --- frequency governor --------------------------------------------------------------------
# ondemand/schedutil ramp the clock up only after the core has been busy: the first event after
# a quiet spell runs slowly.
found="" bad=0 none=0
for c in $(cpulist_expand "$scope"); do
  if g=$(readval "$cpu_sys/cpu$c/cpufreq/scaling_governor"); then
    found+="${found:+ }cpu$c=$g"
    [[ $g == performance ]] || bad=1
  else
    none=1
  fi
done
if [[ -z $found ]]; then
  report SKIP governor "no cpufreq on cpu ${scope:-?}" "no frequency scaling driver, usual in a VM"
elif ((bad)); then
  report FAIL governor "$found" "performance on ${hot:+hot cores }$scope"
else
  report PASS governor "$found$( ((none)) && echo ", some cores without cpufreq")" "performance on ${hot:+hot cores }$scope"
fi

# --- C-states ------------------------------------------------------------------------------
# Waking from a deep C-state costs tens to hundreds of microseconds on the first event.
driver=$(readval "$cpu_sys/cpuidle/current_driver" || echo "none")
if ! v=$(readval /sys/module/intel_idle/parameters/max_cstate); then
  report SKIP intel_idle.max_cstate "intel_idle not loaded" "driver is $driver"
elif [[ $driver != intel_idle ]]; then
  report SKIP intel_idle.max_cstate "max_cstate=$v" "intel_idle is not the idle driver, $driver is"
elif isnum "$v" && ((v <= 1)); then
  report PASS intel_idle.max_cstate "max_cstate=$v" "0 or 1"
else
  report FAIL intel_idle.max_cstate "max_cstate=$v" "0 or 1: intel_idle.max_cstate=0 processor.max_cstate=1, see tuning/cmdline.sh --cstates"
fi

# Any enabled idle state whose exit latency is above 2 us (deeper than C1) on a hot core.
deep="" seen=0
for c in $(cpulist_expand "$scope"); do
  for st in "$cpu_sys/cpu$c"/cpuidle/state*; do
    [[ -d $st ]] || continue
    seen=1
    lat=$(readval "$st/latency" || echo 0)
    dis=$(readval "$st/disable" || echo 0)
    if isnum "$lat" && isnum "$dis" && ((dis == 0 && lat > 2)); then
      deep+="${deep:+, }cpu$c:$(readval "$st/name" || echo "${st##*/}")=${lat}us"
    fi
  done
done
states_ok=1
if ((!seen)); then
  report SKIP cpuidle-states "no cpuidle states on cpu ${scope:-?}" "no cpuidle driver here"
elif [[ -z $deep ]]; then
  report PASS cpuidle-states "no enabled state deeper than 2 us on cpu $scope, driver $driver" "exit latency <= 2 us"
else
  states_ok=0
  report FAIL cpuidle-states "enabled: $deep" "no state deeper than C1, exit latency <= 2 us, on the hot cores"
fi

pm=$(cmdline_param processor.max_cstate) im=$(cmdline_param intel_idle.max_cstate) idle=$(cmdline_param idle)
found="processor.max_cstate=${pm:-unset} intel_idle.max_cstate=${im:-unset} idle=${idle:-unset}"
want="processor.max_cstate=1 intel_idle.max_cstate=0 or idle=poll, or shallow runtime states"
if [[ $idle == poll ]] || { [[ $pm =~ ^[01]$ ]] && [[ $im == 0 ]]; }; then
  report PASS cstate-cmdline "$found" "$want"
elif ((states_ok)); then
  report PASS cstate-cmdline "$found; runtime states already shallow" "$want"
else
  report FAIL cstate-cmdline "$found" "$want"
fi

# --- turbo ---------------------------------------------------------------------------------
# Turbo makes the clock depend on the other cores' load and on temperature: a fixed clock gives
# repeatable latencies.
if t=$(readval "$cpu_sys/intel_pstate/no_turbo"); then
  if [[ $t == 1 ]]; then report PASS turbo "intel_pstate/no_turbo=1, off" "a fixed clock: turbo off"
  else report FAIL turbo "intel_pstate/no_turbo=$t, on" "a fixed clock: echo 1 > $cpu_sys/intel_pstate/no_turbo, or accept the variance knowingly"; fi
elif t=$(readval "$cpu_sys/cpufreq/boost"); then
  if [[ $t == 0 ]]; then report PASS turbo "cpufreq/boost=0, off" "a fixed clock: boost off"
  else report FAIL turbo "cpufreq/boost=$t, on" "a fixed clock: echo 0 > $cpu_sys/cpufreq/boost, or accept the variance knowingly"; fi
else
  report SKIP turbo "no intel_pstate/no_turbo or cpufreq/boost" "no frequency driver exposes turbo here"
fi

# --- memory --------------------------------------------------------------------------------
# THP "always": khugepaged compaction and fault-time zeroing of 2 MiB pages stall the hot path.
thp_file=/sys/kernel/mm/transparent_hugepage/enabled
if v=$(readval "$thp_file"); then
  v=$(sysfs_choice "$v")
  if [[ $v == madvise || $v == never ]]; then report PASS thp "$v" "madvise or never"
  else report FAIL thp "$v" "madvise or never"; fi
else
  report SKIP thp "$thp_file unreadable" "kernel without transparent huge pages"
fi

# Swapping out a page of the engine's state turns a memory read into a disk read.
if v=$(readval /proc/sys/vm/swappiness); then
  if isnum "$v" && ((v <= 10)); then report PASS vm.swappiness "$v" "<= 10"
  else report FAIL vm.swappiness "$v" "<= 10"; fi
else
  report SKIP vm.swappiness "/proc/sys/vm/swappiness unreadable" "cannot read it here"
fi

# --- interrupts ----------------------------------------------------------------------------
# irqbalance moves IRQs every 10 s, onto hot cores too unless they are banned.
running=""
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  if systemctl is-active --quiet irqbalance 2>/dev/null; then running="systemd unit active"; fi
elif command -v pgrep >/dev/null 2>&1 && pgrep -x irqbalance >/dev/null 2>&1; then
  running="process running"
fi
if [[ -z $running ]]; then
  report PASS irqbalance "not running" "not running, or hot cores banned"
else
  banned=""
  for f in /etc/default/irqbalance /etc/sysconfig/irqbalance; do
    [[ -r $f ]] || continue
    b=$(sed -n 's/^[[:space:]]*IRQBALANCE_BANNED_CPULIST=["'\'']\{0,1\}\([0-9,-]*\).*/\1/p' "$f" | tail -n 1)
    if [[ -n $b ]]; then banned=$b; fi
  done
  if [[ -z $hot ]]; then
    report FAIL irqbalance "$running, banned: ${banned:-none}" "not running, or hot cores banned; $no_hot"
  elif [[ -n $banned ]] && cpulist_valid "$banned" && cpulist_subset "$hot" "$banned"; then
    report PASS irqbalance "$running, IRQBALANCE_BANNED_CPULIST=$banned" "hot cores $hot banned"
  else
    report FAIL irqbalance "$running, banned: ${banned:-none}" "stopped, or IRQBALANCE_BANNED_CPULIST=$hot"
  fi
fi

# Each NIC queue's interrupt runs its handler and softirq on the core it is routed to.
nics=$(nic_names)
if [[ -z $nics ]]; then
  report SKIP nic-irq-affinity "no network interface besides lo" "nothing to check"
elif [[ -z $hot ]]; then
  report SKIP nic-irq-affinity "interfaces: $(echo "$nics" | paste -sd' ' -)" "$no_hot"
else
  found="" bad="" unreadable=0
  for n in $nics; do
    irqs=$(nic_irqs "$n")
    [[ -n $irqs ]] || continue
    on=""
    for i in $irqs; do
      if a=$(readval "/proc/irq/$i/smp_affinity_list"); then
        on+="$a;"
        if cpulist_valid "$a" && [[ -n $(cpulist_and "$a" "$hot") ]]; then bad+="${bad:+, }$n irq $i on $a"; fi
      else
        unreadable=1
      fi
    done
    found+="${found:+; }$n irqs $(echo "$irqs" | paste -sd, -) on $(echo "${on%;}" | tr ';' '\n' | sort -u | paste -sd'|' -)"
  done
  if [[ -z $found ]]; then
    report SKIP nic-irq-affinity "no IRQ found for $(echo "$nics" | paste -sd' ' -)" "virtual interfaces only"
  elif ((unreadable)) && [[ -z $bad ]]; then
    report SKIP nic-irq-affinity "$found; some smp_affinity_list unreadable" "cannot read IRQ affinity here"
  elif [[ -n $bad ]]; then
    report FAIL nic-irq-affinity "$bad" "NIC queue IRQs off hot cores $hot"
  else
    report PASS nic-irq-affinity "$found" "NIC queue IRQs off hot cores $hot"
  fi
fi

# --- network and I/O -----------------------------------------------------------------------
# Busy polling spins in the socket read instead of waiting for the softirq wake-up.
for key in busy_poll busy_read; do
  if v=$(readval "/proc/sys/net/core/$key"); then
    if isnum "$v" && ((v > 0)); then report PASS "net.core.$key" "$v us" "> 0, 50 recommended, for the websocket socket"
    else report FAIL "net.core.$key" "$v" "> 0, 50 recommended, for the websocket socket"; fi
  else
    report SKIP "net.core.$key" "/proc/sys/net/core/$key unreadable" "not visible here (network namespace or old kernel)"
  fi
done

# The recorder writes through io_uring and falls back to plain writes when refused.
if v=$(readval /proc/sys/kernel/io_uring_disabled); then
  case $v in
    0) report PASS io_uring "io_uring_disabled=0" "available" ;;
    1) report FAIL io_uring "io_uring_disabled=1: only kernel.io_uring_group members" "0, or polyarb's user in kernel.io_uring_group" ;;
    *) report FAIL io_uring "io_uring_disabled=$v: off" "0; the recorder falls back to plain writes" ;;
  esac
else
  report PASS io_uring "no kernel.io_uring_disabled" "available; the sysctl exists since Linux 6.6"
fi

# --- JSON ----------------------------------------------------------------------------------
json_str() { # a JSON string literal for $1
  local s=$1
  s=${s//\\/\\\\} s=${s//\"/\\\"} s=${s//$'\t'/\\t} s=${s//$'\n'/\\n} s=${s//$'\r'/\\r}
  s=${s//[[:cntrl:]]/}
  printf '"%s"' "$s"
}
if [[ -n $json ]]; then
  {
    printf '[\n'
    for i in "${!names[@]}"; do
      printf '  {"check": %s, "status": %s, "found": %s, "wanted": %s}%s\n' \
        "$(json_str "${names[i]}")" "$(json_str "${statuses[i]}")" \
        "$(json_str "${founds[i]}")" "$(json_str "${wanteds[i]}")" \
        "$( ((i + 1 < ${#names[@]})) && echo ,)"
    done
    printf ']\n'
  } >"$json" || { echo "check.sh: cannot write $json" >&2; exit 2; }
fi

if [[ -z $hot ]]; then
  echo "note: no hot cores (none isolated, no --cores): per-core checks looked at every online core ($online)" >&2
fi
exit "$failed"
