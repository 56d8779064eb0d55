#!/usr/bin/env bash
# Stop the private SLURM cluster started by tools/slurm/start_cluster.sh and clean up.
#
# Usage:  bash tools/slurm/stop_cluster.sh [--keep]
#
# Steps (each bounded by `timeout`): cancel every job of this cluster, note the PIDs of job steps still
# on the node (`scontrol listpids`), send SIGTERM to slurmd, slurmctld and munged by the PIDs in their PID
# files, wait up to 10 s, SIGKILL what is left (daemons and leftover job steps, by PID), then delete the
# state directory and the /etc/slurm/slurm.conf link start_cluster.sh made. `--keep` keeps the directory (logs, slurm.conf) for inspection.
# Stopping a cluster that is not running is not an error.
#
# Settings: TOPOSCALE_SLURM_DIR (default /tmp/toposcale-slurm), as for start_cluster.sh.
set -euo pipefail

STATE_DIR="${TOPOSCALE_SLURM_DIR:-/tmp/toposcale-slurm}"
CONF="$STATE_DIR/etc/slurm.conf"
RUN_DIR="$STATE_DIR/run"
KEEP=0

say() { echo "[slurm-stop] $*"; }
die() {
    echo "[slurm-stop] ERROR: $*" >&2
    exit 1
}

case "${1:-}" in
"") ;;
--keep) KEEP=1 ;;
-h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 0
    ;;
*) die "unknown argument '$1' (usage: stop_cluster.sh [--keep])" ;;
esac
[[ "$STATE_DIR" = /* ]] || die "TOPOSCALE_SLURM_DIR must be an absolute path, got '$STATE_DIR'."

if [[ ! -d "$STATE_DIR" ]]; then
    say "no state directory $STATE_DIR; nothing to stop"
    exit 0
fi

read_pid() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }
pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# PIDs of the daemons, from their own PID files (and from the list start_cluster.sh wrote)
declare -A PIDS=()
for name in slurmd slurmctld munged; do
    pid="$(read_pid "$RUN_DIR/$name.pid")"
    # munged writes its own PID file first; start_cluster.sh copies it to run/ once munged is up
    [[ -z "$pid" && "$name" == munged ]] && pid="$(read_pid "$STATE_DIR/munge/munged.pid")"
    if [[ -z "$pid" && -s "$STATE_DIR/pids" ]]; then
        pid="$(awk -v n="$name" '$1 == n {print $2}' "$STATE_DIR/pids")"
    fi
    [[ -n "$pid" ]] && PIDS[$name]="$pid"
done

STEP_PIDS=()
export SLURM_CONF="$CONF"
if [[ -f "$CONF" ]] && pid_alive "${PIDS[slurmctld]:-}"; then
    jobs="$(timeout 10 squeue -h -t PENDING,RUNNING,SUSPENDED,CONFIGURING,COMPLETING -o %i 2>/dev/null || true)"
    if [[ -n "$jobs" ]]; then
        say "cancelling jobs: $(tr '\n' ' ' <<<"$jobs")"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs || say "scancel failed; job steps are killed by PID below"
        sleep 1
    fi
fi
if [[ -f "$CONF" ]] && pid_alive "${PIDS[slurmd]:-}"; then
    # processes of job steps still on the node; columns: PID JOBID STEPID LOCALID GLOBALID
    mapfile -t STEP_PIDS < <(timeout 10 scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}')
fi

# daemons first (slurmd before slurmctld before munged), then leftover job-step processes
for name in slurmd slurmctld munged; do
    pid="${PIDS[$name]:-}"
    if pid_alive "$pid"; then
        say "stopping $name (PID $pid)"
        kill -TERM "$pid" 2>/dev/null || true
    fi
done
for pid in "${STEP_PIDS[@]}"; do
    pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
done

deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
    alive=0
    for pid in "${PIDS[@]}" "${STEP_PIDS[@]}"; do
        pid_alive "$pid" && alive=1
    done
    ((alive == 0)) && break
    sleep 0.2
done
for pid in "${PIDS[@]}" "${STEP_PIDS[@]}"; do
    if pid_alive "$pid"; then
        say "PID $pid ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
done
sleep 0.2
for name in "${!PIDS[@]}"; do
    pid_alive "${PIDS[$name]}" && die "$name (PID ${PIDS[$name]}) is still alive after SIGKILL."
done

# start_cluster.sh links the default configuration path to this cluster's file; undo that
SYSTEM_CONF=/etc/slurm/slurm.conf
if [[ -L "$SYSTEM_CONF" && "$(readlink "$SYSTEM_CONF")" == "$CONF" ]]; then
    rm -f "$SYSTEM_CONF"
    say "removed the link $SYSTEM_CONF"
fi

if ((KEEP)); then
    rm -f "$STATE_DIR/pids"
    say "stopped; kept $STATE_DIR (logs in $STATE_DIR/log)"
else
    rm -rf "$STATE_DIR"
    say "stopped; removed $STATE_DIR"
fi
