# shellcheck shell=bash
# Helpers shared by tuning/check.sh, apply.sh, revert.sh and cmdline.sh: CPU lists ("2-3,5"),
# the kernel command line, and the IRQs of the network interfaces. Sourced, never run; defines
# functions only, so sourcing it changes no caller's state.

cpu_sys=/sys/devices/system/cpu

# True if $1 is a CPU list: comma-separated numbers or ascending ranges ("0-1,4,6-7").
cpulist_valid() {
  local item a b
  [[ $1 =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || return 1
  local IFS=,
  for item in $1; do
    if [[ $item == *-* ]]; then
      a=$((10#${item%-*})) b=$((10#${item#*-}))
      ((a <= b)) || return 1
    fi
  done
}

# Prints the CPUs of list $1, one per line, ascending, no duplicates. Empty input prints nothing.
cpulist_expand() {
  local item a b i
  [[ -n $1 ]] || return 0
  cpulist_valid "$1" || return 1
  {
    local IFS=,
    for item in $1; do
      if [[ $item == *-* ]]; then a=$((10#${item%-*})) b=$((10#${item#*-})); else a=$((10#$item)) b=$a; fi
      for ((i = a; i <= b; i++)); do echo "$i"; done
    done
  } | sort -n -u
}

# Reads CPU numbers (one a line) on stdin and prints them as a compact list ("0-2,5").
cpulist_compress() {
  sort -n -u | awk 'NF { if (n && $1 == last + 1) { last = $1; next }
                         if (n) { out = out sep range(); sep = "," }
                         first = last = $1; n = 1 }
                    function range() { return first == last ? first : first "-" last }
                    END { if (n) out = out sep range(); print out }'
}

# The CPUs of list $1 that are not in list $2, as a list.
cpulist_minus() {
  local keep
  keep=$(cpulist_expand "$2")
  cpulist_expand "$1" | awk -v drop="$keep" 'BEGIN { n = split(drop, d, "\n"); for (i = 1; i <= n; i++) x[d[i]] = 1 }
                                              !($1 in x)' | cpulist_compress
}

# The CPUs in both lists, as a list (empty if none).
cpulist_and() {
  local other
  other=$(cpulist_expand "$2")
  cpulist_expand "$1" | awk -v keep="$other" 'BEGIN { n = split(keep, k, "\n"); for (i = 1; i <= n; i++) x[k[i]] = 1 }
                                               ($1 in x)' | cpulist_compress
}

# True if every CPU of list $1 is in list $2.
cpulist_subset() { [[ -z $(cpulist_minus "$1" "$2") ]]; }

# The hex mask /proc/irq/default_smp_affinity takes for list $1: 32-bit groups, comma-separated,
# most significant first ("ff,fffffff0" for 4-39).
cpulist_mask() {
  cpulist_expand "$1" | awk 'BEGIN { top = 0 }
                             { g = int($1 / 32); b = $1 % 32; w[g] += 2 ^ b; if (g > top) top = g }
                             END { for (g = top; g >= 0; g--) { s = s sprintf(g == top ? "%x" : "%08x", w[g] + 0)
                                                                 if (g) s = s "," }
                                   print s }'
}

online_cpus() { cat "$cpu_sys/online" 2>/dev/null || true; }

# The value of kernel parameter $1 on the running command line (empty if absent; "1" for a bare
# flag). The last occurrence wins, as in the kernel.
cmdline_param() {
  local word value="" words=()
  [[ -r /proc/cmdline ]] || return 0
  read -r -a words </proc/cmdline || true
  for word in "${words[@]}"; do
    [[ $word == -- ]] && break # what follows "--" goes to init, not to the kernel
    if [[ $word == "$1="* ]]; then value=${word#"$1="}; elif [[ $word == "$1" ]]; then value=1; fi
  done
  printf '%s' "$value"
}

# The CPU list inside an isolcpus= value, without its flags ("managed_irq,domain,2-3" -> "2-3").
isolcpus_list() {
  local item out=""
  local IFS=,
  for item in $1; do
    if [[ $item =~ ^[0-9]+(-[0-9]+)?$ ]]; then out+="${out:+,}$item"; fi
  done
  printf '%s' "$out"
}

# Network interfaces that have hardware behind them: every entry of /sys/class/net except lo.
nic_names() {
  local d
  for d in /sys/class/net/*; do
    [[ -e $d ]] || continue
    [[ ${d##*/} == lo ]] || echo "${d##*/}"
  done
}

# The IRQ numbers of interface $1: its device's MSI vectors (a virtio NIC's are on its PCI
# parent), plus /proc/interrupts lines naming the interface or its virtio device
# ("eth0-TxRx-3", "virtio2-input.0"). Prints nothing for virtual interfaces (ifb, veth, bridges).
nic_irqs() {
  local dev="/sys/class/net/$1/device" virt="" f
  {
    if [[ -e $dev ]]; then
      local real
      real=$(readlink -f "$dev" 2>/dev/null || true)
      if [[ ${real##*/} == virtio* ]]; then virt=${real##*/}; fi
      for f in "$dev"/msi_irqs/*; do if [[ -e $f ]]; then echo "${f##*/}"; fi; done
      if [[ -n $virt ]]; then
        for f in "$dev"/../msi_irqs/*; do if [[ -e $f ]]; then echo "${f##*/}"; fi; done
      fi
    fi
    if [[ -r /proc/interrupts ]]; then
      awk -v ifname="$1" -v virt="$virt" '
        $1 ~ /^[0-9]+:$/ { for (i = 2; i <= NF; i++)
                             if ($i == ifname || index($i, ifname "-") == 1 || (virt != "" && index($i, virt "-") == 1)) {
                               sub(":", "", $1); print $1; break } }' /proc/interrupts
    fi
  } | sort -n -u
}

# The state inside brackets of a sysfs choice file ("always [madvise] never" -> "madvise"),
# or the whole value if it has none.
sysfs_choice() {
  local v=$1
  if [[ $v =~ \[([^]]*)\] ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf '%s' "$v"; fi
}

# True if systemd is the init system and unit $1 is active.
systemd_active() {
  [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 &&
    systemctl is-active --quiet "$1" 2>/dev/null
}

# The CPU list of a hex mask as /proc/irq/*/smp_affinity prints it ("ff,fffffff0" -> "4-39").
mask_cpulist() {
  local groups g word bit base=0 i
  IFS=, read -r -a groups <<<"$1"
  for ((i = ${#groups[@]} - 1; i >= 0; i--)); do
    g=${groups[i]}
    [[ $g =~ ^[0-9a-fA-F]+$ ]] || return 1
    word=$((16#$g))
    for ((bit = 0; bit < 32; bit++)); do
      if ((word >> bit & 1)); then echo $((base + bit)); fi
    done
    base=$((base + 32))
  done | cpulist_compress
}

# The first line of setting file $1 in the form it is written back ("always [madvise] never" ->
# "madvise"); fails if unreadable.
setting_read() {
  local v=""
  [[ -r $1 ]] || return 1
  IFS= read -r v 2>/dev/null <"$1" || [[ -n $v ]] || return 1
  sysfs_choice "$v"
}

# Value $2 of setting $1 in a form that compares equal however it is spelled (CPU lists, masks).
setting_norm() {
  case $1 in
    */smp_affinity_list) if cpulist_valid "$2"; then cpulist_expand "$2" | cpulist_compress; else printf '%s' "$2"; fi ;;
    */default_smp_affinity) if [[ $2 =~ ^[0-9a-fA-F]+(,[0-9a-fA-F]+)*$ ]]; then mask_cpulist "$2"; else printf '%s' "$2"; fi ;;
    *) printf '%s' "$2" ;;
  esac
}

# True if $1 is a setting apply.sh may change, so revert.sh writes nothing else a snapshot names.
setting_allowed() {
  [[ $1 =~ ^/proc/sys/(vm/swappiness|net/core/busy_poll|net/core/busy_read)$ ]] ||
    [[ $1 =~ ^/proc/irq/([0-9]+/smp_affinity_list|default_smp_affinity)$ ]] ||
    [[ $1 =~ ^/sys/devices/system/cpu/cpu[0-9]+/cpufreq/scaling_governor$ ]] ||
    [[ $1 == /sys/kernel/mm/transparent_hugepage/enabled ]] ||
    [[ $1 == systemd-unit:irqbalance.service ]]
}

# Writes value $2 to setting file $1; on failure prints the kernel's reason and fails.
setting_write() {
  local err
  if ! err=$({ printf '%s\n' "$2" >"$1"; } 2>&1); then
    err=${err##*: }
    printf '%s' "${err:-write failed}"
    return 1
  fi
}

# The default snapshot file: /var/lib/polyarb if it can be written there, else the XDG state dir.
default_snapshot() {
  local d=/var/lib/polyarb
  while [[ ! -e $d ]]; do d=$(dirname "$d"); done
  if [[ -d $d && -w $d ]]; then
    echo /var/lib/polyarb/tuning-snapshot
  else
    echo "${XDG_STATE_HOME:-${HOME:-/tmp}/.local/state}/polyarb/tuning-snapshot"
  fi
}
