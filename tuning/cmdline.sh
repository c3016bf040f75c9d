#!/usr/bin/env bash
# Prints the kernel command line parameters that isolate polyarb's hot cores, and how to add them
# with GRUB. Prints only; changes nothing. They take effect at the next boot.
#
# Usage: tuning/cmdline.sh --cores LIST [--housekeeping LIST] [--cstates]
#   --cores LIST         the hot cores ("2-3,5"): no scheduler load balancing, no tick while one
#                        task runs, no RCU callbacks, no device IRQs
#   --housekeeping LIST  cores for everything else and for IRQs; default: online cores minus LIST
#   --cstates            also limit C-states to C1 (processor.max_cstate=1 intel_idle.max_cstate=0)
# Exit status: 0 printed, 2 usage error (bad list, a core that does not exist, no housekeeping).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

usage() {
  echo "usage: tuning/cmdline.sh --cores LIST [--housekeeping LIST] [--cstates]" >&2
  exit 2
}
fail() {
  echo "cmdline.sh: $*" >&2
  exit 2
}

cores="" hk="" cstates=0
while (($#)); do
  case $1 in
    --cores) (($# >= 2)) || usage; cores=$2; shift 2 ;;
    --housekeeping) (($# >= 2)) || usage; hk=$2; shift 2 ;;
    --cstates) cstates=1; shift ;;
    -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "cmdline.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n $cores ]] || usage

online=$(online_cpus)
[[ -n $online ]] || fail "cannot read $cpu_sys/online to check the cores"
cpulist_valid "$cores" || fail "--cores '$cores' is not a CPU list (numbers and ascending ranges: 2-3,5)"
cores=$(cpulist_expand "$cores" | cpulist_compress)
missing=$(cpulist_minus "$cores" "$online")
[[ -z $missing ]] || fail "--cores $cores: cpu $missing does not exist or is offline (online: $online)"

if [[ -n $hk ]]; then
  cpulist_valid "$hk" || fail "--housekeeping '$hk' is not a CPU list (numbers and ascending ranges: 0-1)"
  hk=$(cpulist_expand "$hk" | cpulist_compress)
  missing=$(cpulist_minus "$hk" "$online")
  [[ -z $missing ]] || fail "--housekeeping $hk: cpu $missing does not exist or is offline (online: $online)"
  both=$(cpulist_and "$hk" "$cores")
  [[ -z $both ]] || fail "cpu $both is both a hot core and a housekeeping core"
else
  hk=$(cpulist_minus "$online" "$cores")
fi
[[ -n $hk ]] || fail "hot cores $cores are every online core ($online): none would be left for housekeeping (the kernel, IRQs, the node); leave at least one out"

# managed_irq: drivers' managed IRQs (multi-queue NICs, NVMe) avoid the hot cores too;
# domain: no scheduler load balancing onto or off them.
params="isolcpus=managed_irq,domain,$cores nohz_full=$cores rcu_nocbs=$cores irqaffinity=$hk"
if ((cstates)); then params+=" processor.max_cstate=1 intel_idle.max_cstate=0"; fi

cat <<EOF
$params

Hot cores $cores, housekeeping cores $hk.
To add them with GRUB (a reboot applies them; nothing here changes anything):
  1. In /etc/default/grub append them to GRUB_CMDLINE_LINUX_DEFAULT, for example
       GRUB_CMDLINE_LINUX_DEFAULT="<what is there now> $params"
     (replace any isolcpus=, nohz_full=, rcu_nocbs=, irqaffinity= already there).
  2. Regenerate the boot configuration:
       Debian/Ubuntu: sudo update-grub
       RHEL/Fedora:   sudo grub2-mkconfig -o /boot/grub2/grub.cfg
                      (or: sudo grubby --update-kernel=ALL --args="$params")
  3. Reboot, then check: cat /proc/cmdline; tuning/check.sh --cores $cores
EOF
if ((!cstates)); then
  echo "Add --cstates to also keep the cores out of deep C-states from boot (costs idle power)."
fi
