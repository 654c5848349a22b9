#!/usr/bin/env bash
# A single-node SLURM on this machine, for the tests and for trying the cluster path locally.
#
#   bash scripts/slurm_local.sh install   # Debian packages slurmctld slurmd slurm-client munge (root or sudo)
#   bash scripts/slurm_local.sh start     # munged, slurmctld, slurmd; waits until the node is idle
#   bash scripts/slurm_local.sh status
#   bash scripts/slurm_local.sh stop      # stops the daemons this script started, by their pid files
#
# Idempotent: start on a running cluster and stop on a stopped one do nothing. Runs as root (the
# daemons need it); state lives under $SLURM_LOCAL_DIR (default /tmp/cadenza-slurm).
set -euo pipefail

DIR="${SLURM_LOCAL_DIR:-/tmp/cadenza-slurm}"
CONF="$DIR/slurm.conf"
HOST="$(hostname -s)"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

cpus() { nproc; }
memory_mb() { awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  mkdir -p "$DIR"/{spool,state,log}
  cat > "$CONF" <<EOF
ClusterName=cadenza-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST CPUs=$(cpus) RealMemory=$(memory_mb) State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=120 State=UP
EOF
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
      && command -v munged >/dev/null; then
    return 0
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

start_munge() {
  if [ -S /run/munge/munge.socket.2 ] && pgrep -x munged >/dev/null; then
    return 0
  fi
  $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  $SUDO chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  $SUDO chmod 0700 /etc/munge /var/log/munge /var/lib/munge
  $SUDO chmod 0400 /etc/munge/munge.key
  $SUDO chmod 0755 /run/munge
  $SUDO su -s /bin/sh munge -c /usr/sbin/munged
  mkdir -p "$DIR" && touch "$DIR/munged.started"
}

start() {
  command -v slurmctld >/dev/null || { echo "slurm_local: SLURM is not installed; run: bash $0 install" >&2; exit 2; }
  if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    echo "slurm_local: already running; export SLURM_CONF=$CONF"
    return 0
  fi
  write_conf
  start_munge
  alive "$DIR/slurmctld.pid" || $SUDO /usr/sbin/slurmctld -f "$CONF"
  alive "$DIR/slurmd.pid" || $SUDO /usr/sbin/slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    if SLURM_CONF="$CONF" sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "slurm_local: running; export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  echo "slurm_local: the node did not come up; see $DIR/log" >&2
  exit 1
}

stop() {
  for daemon in slurmd slurmctld; do
    if alive "$DIR/$daemon.pid"; then
      $SUDO kill "$(cat "$DIR/$daemon.pid")"
      for _ in $(seq 1 20); do alive "$DIR/$daemon.pid" || break; sleep 0.5; done
    fi
    rm -f "$DIR/$daemon.pid"
  done
  if [ -f "$DIR/munged.started" ] && alive /run/munge/munged.pid; then
    $SUDO kill "$(cat /run/munge/munged.pid)"
  fi
  rm -f "$DIR/munged.started"
  echo "slurm_local: stopped"
}

status() {
  if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    SLURM_CONF="$CONF" sinfo
  else
    echo "slurm_local: not running"
    return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
