#!/usr/bin/env bash
# Read-only report of the CPU-isolation state polyarb's [cores] map relies on: which cores the
# kernel isolates, their frequency governors, and which cores take device interrupts.
# Changes nothing; safe to run as any user. Usage: tuning/cpu-report.sh [core ...]
set -euo pipefail

cores=("$@")
online=$(cat /sys/devices/system/cpu/online 2>/dev/null || echo "?")
echo "online cpus:     $online"
echo "isolated cpus:   $(cat /sys/devices/system/cpu/isolated 2>/dev/null || echo "?")"
echo "nohz_full cpus:  $(cat /sys/devices/system/cpu/nohz_full 2>/dev/null || echo "?")"
cmdline=$(cat /proc/cmdline 2>/dev/null || true)
for key in isolcpus nohz_full rcu_nocbs irqaffinity; do
  val=$(tr ' ' '\n' <<<"$cmdline" | grep "^${key}=" || true)
  echo "kernel ${key}: ${val:-not set}"
done

if [[ ${#cores[@]} -eq 0 ]]; then
  mapfile -t cores < <(ls -d /sys/devices/system/cpu/cpu[0-9]* 2>/dev/null | sed 's/.*cpu//' | sort -n)
fi
for c in "${cores[@]}"; do
  gov=$(cat "/sys/devices/system/cpu/cpu${c}/cpufreq/scaling_governor" 2>/dev/null || echo "n/a")
  echo "cpu${c}: governor=${gov}"
done

# Interrupts per CPU (summed over all IRQ lines) since boot: an isolated core should stay near 0.
if [[ -r /proc/interrupts ]]; then
  awk 'NR==1 { n = NF; for (i = 1; i <= NF; i++) name[i] = $i; next }
       { for (i = 2; i <= n + 1; i++) if ($i ~ /^[0-9]+$/) sum[i-1] += $i }
       END { for (i = 1; i <= n; i++) printf "%s interrupts: %d\n", name[i], sum[i] }' /proc/interrupts
fi
