#!/usr/bin/env bash
# Single-node Slurm on this host for tests/engine_slurm.rs (the recipe of SCALE_OUT.md, section
# A): installs slurmctld/slurmd/munge from the distro, writes a one-node slurm.conf tuned for fast
# turn-around, starts munged, slurmctld and slurmd (their PIDs land in /run/munge and /run/slurm)
# and waits until the node is idle. Needs root (or sudo). Stop it with .ci/slurm_down.sh.
set -euo pipefail
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
T=$(date +%s%N)

if ! command -v slurmctld >/dev/null 2>&1 && [ ! -x /usr/sbin/slurmctld ]; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
echo "   slurm install: $(ms "$T") ms"

T=$(date +%s%N)
as_root mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
[ -s /etc/munge/munge.key ] || as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
as_root chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
as_root chmod 0700 /etc/munge /var/lib/munge /var/log/munge
as_root chmod 0755 /run/munge
as_root chmod 0400 /etc/munge/munge.key
as_root runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

HOST=$(hostname -s); NCPU=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 512 ))
as_root mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
as_root tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1,bf_interval=1,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MaxArraySize=100001
MaxJobCount=200000
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${NCPU} RealMemory=${MEM} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
CONF

as_root /usr/sbin/slurmctld -i
as_root /usr/sbin/slurmd
for _ in $(seq 1 300); do
  case "$(sinfo -h -N -o '%t' 2>/dev/null | head -1)" in idle|mix|alloc) break;; esac
  sleep 0.1
done
case "$(sinfo -h -N -o '%t' 2>/dev/null | head -1)" in
  idle|mix|alloc) ;;
  *) echo "slurm_up: the node did not become idle; see /var/log/slurm/" >&2; sinfo -N >&2 || true; exit 1;;
esac
echo "   slurm start-up (munge + slurm to an idle node): $(ms "$T") ms"
