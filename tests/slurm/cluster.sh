# A one-node Slurm 22.05 cluster with munge on loopback, in temp directories, for the Slurm tests
# (sourced). slurm_start DIR starts munged, slurmctld and slurmd and waits for the node to be
# idle; slurm_stop ends them by the pids in their pid files. Needs root and Debian's slurm-wlm and
# munge; slurm_available says whether this machine has them.
# Facts (checked on Debian 12): the munge key must be 0400 and owned by munge in a directory that
# is not world-readable, the socket's directory must be searchable by everyone; cred_expire also
# sets how long a requeued job waits before it may start again (default 120 s; 5 works, 2 is
# refused and silently becomes 120).

slurm_available() {
  [ "$(id -u)" -eq 0 ] && command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v munged >/dev/null && command -v sbatch >/dev/null && id munge >/dev/null 2>&1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# slurm_start DIR: exports SLURM_CONF and SLURM_NODE.
slurm_start() {
  local d=$1
  mkdir -p "$d/munge-key" "$d/munge-run" "$d/state" "$d/spool" "$d/log"
  chmod 0711 "$d"
  chown munge:munge "$d/munge-key" "$d/munge-run"
  chmod 0700 "$d/munge-key"
  chmod 0755 "$d/munge-run"
  dd if=/dev/urandom of="$d/munge-key/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$d/munge-key/munge.key"
  chmod 0400 "$d/munge-key/munge.key"
  runuser -u munge -- munged --key-file="$d/munge-key/munge.key" \
    --socket="$d/munge-run/munge.socket" --pid-file="$d/munge-run/munged.pid" \
    --log-file="$d/munge-run/munged.log" --seed-file="$d/munge-run/munged.seed"
  local node ctl_port d_port
  node=$(hostname -s)
  ctl_port=$(free_port)
  d_port=$(free_port)
  while [ "$d_port" = "$ctl_port" ]; do d_port=$(free_port); done
  cat > "$d/slurm.conf" <<CONF
ClusterName=inlooptest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$d/munge-run/munge.socket,cred_expire=5
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
ReturnToService=2
JobRequeue=1
MpiDefault=none
KillWait=5
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/slurm.conf
  export SLURM_NODE=$node
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  local i
  for ((i = 0; i < 600; i++)); do
    if sinfo -h -n "$node" -o %t 2>/dev/null | grep -qx idle; then return 0; fi
    sleep 0.1
  done
  echo "slurm: node $node did not become idle; sinfo: $(sinfo 2>&1 | tail -3)" >&2
  tail -20 "$d/log/slurmctld.log" "$d/log/slurmd.log" >&2 || true
  return 1
}

slurm_stop() {
  local d=$1 f pid i
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munge-run/munged.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || continue
    # The state they save on the way out is thrown away with the directory: 2 s, then SIGKILL.
    for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
