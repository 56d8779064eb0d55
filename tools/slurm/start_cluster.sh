#!/usr/bin/env bash
# Start a private single-node SLURM cluster on this machine, for tests and demos.
#
# Usage:  bash tools/slurm/start_cluster.sh [--no-install]
#
# What it does (every step is bounded by `timeout`):
#   1. installs the Debian packages slurmctld, slurmd, slurm-client and munge when a command is missing
#      (needs root; `--no-install` turns a missing command into an error instead);
#   2. writes munge.key, slurm.conf and the spool/log folders under the state directory;
#   3. points /etc/slurm/slurm.conf at that slurm.conf (a symlink; refused when a real file is there);
#   4. starts munged (as the munge user, on a private socket), slurmctld and slurmd;
#   5. waits until `sinfo` reports the node idle, then writes the daemons' PIDs to $STATE_DIR/pids.
# Running it again while the cluster is up changes nothing (it says so and exits 0). A cluster left half
# up (a daemon died) is stopped and started afresh.
#
# Afterwards, clients need the configuration path:   source "$STATE_DIR/env.sh"
# (it sets SLURM_CONF; sbatch --export=ALL carries it into jobs). Stop with tools/slurm/stop_cluster.sh.
#
# Settings (environment variables):
#   TOPOSCALE_SLURM_DIR              state directory                    (default /tmp/toposcale-slurm)
#   TOPOSCALE_SLURM_CTLD_PORT        slurmctld TCP port                 (default 6817)
#   TOPOSCALE_SLURM_SLURMD_PORT      slurmd TCP port                    (default 6818)
#   TOPOSCALE_SLURM_MEM_PERCENT      share of `slurmd -C` RealMemory offered to jobs (default 90)
#   TOPOSCALE_SLURM_INSTALL_TIMEOUT  seconds allowed for apt-get        (default 600)
#   TOPOSCALE_SLURM_READY_TIMEOUT    seconds to wait for an idle node   (default 60)
#   TOPOSCALE_SLURM_CPUS             CPUs the node offers to jobs        (default: the hardware's, from
#                                    `slurmd -C`; more oversubscribes the cores, e.g. so that short jobs
#                                    that mostly start Python do not wait behind a long one)
#
# Choices forced by containers without systemd or cgroups: ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none. There is no slurmdbd, so `sacct` knows nothing: MinJobAge=300 keeps finished jobs
# visible to `squeue --states=all` for five minutes, which is what snakemake-executor-plugin-slurm's
# `status_command: squeue` relies on.
set -euo pipefail

STATE_DIR="${TOPOSCALE_SLURM_DIR:-/tmp/toposcale-slurm}"
CTLD_PORT="${TOPOSCALE_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${TOPOSCALE_SLURM_SLURMD_PORT:-6818}"
MEM_PERCENT="${TOPOSCALE_SLURM_MEM_PERCENT:-90}"
INSTALL_TIMEOUT="${TOPOSCALE_SLURM_INSTALL_TIMEOUT:-600}"
READY_TIMEOUT="${TOPOSCALE_SLURM_READY_TIMEOUT:-60}"
OFFER_CPUS="${TOPOSCALE_SLURM_CPUS:-}"
PACKAGES=(slurmctld slurmd slurm-client munge)
COMMANDS=(slurmctld slurmd sinfo squeue sbatch scontrol scancel munged munge unmunge)

CONF="$STATE_DIR/etc/slurm.conf"
MUNGE_DIR="$STATE_DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
LOG_DIR="$STATE_DIR/log"
RUN_DIR="$STATE_DIR/run"
SYSTEM_CONF=/etc/slurm/slurm.conf
NODE="$(hostname -s)"
T0=$SECONDS

say() { echo "[slurm-start] $*"; }
die() {
    echo "[slurm-start] ERROR: $*" >&2
    exit 1
}

show_log_tail() {
    local f="$1"
    if [[ -s "$f" ]]; then
        echo "----- last lines of $f -----" >&2
        tail -n 20 "$f" >&2
    fi
}

check_settings() {
    [[ "$STATE_DIR" = /* ]] || die "TOPOSCALE_SLURM_DIR must be an absolute path, got '$STATE_DIR'."
    local v
    for v in CTLD_PORT SLURMD_PORT MEM_PERCENT INSTALL_TIMEOUT READY_TIMEOUT; do
        [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a positive integer, got '${!v}'."
    done
    ((MEM_PERCENT >= 10 && MEM_PERCENT <= 100)) ||
        die "TOPOSCALE_SLURM_MEM_PERCENT must lie in 10..100, got $MEM_PERCENT."
    [[ "$CTLD_PORT" != "$SLURMD_PORT" ]] || die "slurmctld and slurmd ports must differ (both $CTLD_PORT)."
    # unix sockets are limited to 107 characters
    ((${#MUNGE_SOCKET} < 100)) || die "state directory path too long for a unix socket: $MUNGE_SOCKET"
}

missing_commands() {
    local c missing=()
    for c in "${COMMANDS[@]}"; do
        command -v "$c" >/dev/null 2>&1 || [[ -x "/usr/sbin/$c" ]] || missing+=("$c")
    done
    echo "${missing[@]:-}"
}

install_packages() {
    local missing
    missing="$(missing_commands)"
    [[ -z "$missing" ]] && return 0
    if [[ "${NO_INSTALL:-0}" == 1 ]]; then
        die "missing commands: $missing (and --no-install was given). Install: apt-get install ${PACKAGES[*]}"
    fi
    [[ "$(id -u)" == 0 ]] || die "missing commands: $missing; installing ${PACKAGES[*]} needs root."
    command -v apt-get >/dev/null || die "missing commands: $missing and no apt-get to install ${PACKAGES[*]}."
    say "installing ${PACKAGES[*]} (missing: $missing)"
    local apt=(timeout "$INSTALL_TIMEOUT" apt-get -y -qq -o DPkg::Lock::Timeout=120)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${apt[@]}" install --no-install-recommends "${PACKAGES[@]}" >"$STATE_DIR/apt.log" 2>&1; then
        say "first install attempt failed; running apt-get update and retrying"
        "${apt[@]}" update >>"$STATE_DIR/apt.log" 2>&1 || true
        "${apt[@]}" install --no-install-recommends "${PACKAGES[@]}" >>"$STATE_DIR/apt.log" 2>&1 || {
            show_log_tail "$STATE_DIR/apt.log"
            die "apt-get install ${PACKAGES[*]} failed (full log: $STATE_DIR/apt.log)."
        }
    fi
    missing="$(missing_commands)"
    [[ -z "$missing" ]] || die "still missing after install: $missing"
    say "installed in $((SECONDS - T0)) s"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

read_pid() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

# Exit 0 when munged, slurmctld and slurmd of this state directory are all alive and the node answers.
cluster_up() {
    local f
    for f in munged slurmctld slurmd; do
        pid_alive "$(read_pid "$RUN_DIR/$f.pid")" || return 1
    done
    [[ -f "$CONF" ]] || return 1
    SLURM_CONF="$CONF" timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'
}

any_daemon_alive() {
    local f
    for f in munged slurmctld slurmd; do
        pid_alive "$(read_pid "$RUN_DIR/$f.pid")" && return 0
    done
    return 1
}

start_munged() {
    getent passwd munge >/dev/null || die "user 'munge' does not exist; is the munge package installed?"
    install -d -m 0700 -o munge -g munge "$MUNGE_DIR"
    if [[ ! -s "$MUNGE_DIR/munge.key" ]]; then
        # 1024 random bytes, the size mungekey(8) creates by default
        timeout 10 dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
    fi
    chown munge:munge "$MUNGE_DIR/munge.key"
    chmod 0400 "$MUNGE_DIR/munge.key"
    # slurm daemons and clients (root or not) must reach the socket: directory traversable, not writable
    chmod 0755 "$MUNGE_DIR"
    timeout 10 runuser -u munge -- test -r "$MUNGE_DIR/munge.key" ||
        die "user munge cannot read $MUNGE_DIR/munge.key: every parent of $STATE_DIR must be traversable (o+x)."
    say "starting munged (user munge, socket $MUNGE_SOCKET)"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$RUN_DIR/munged.pid"
    timeout 20 runuser -u munge -- munged \
        --key-file="$MUNGE_DIR/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" || {
        show_log_tail "$MUNGE_DIR/munged.log"
        die "munged failed to start (log: $MUNGE_DIR/munged.log)."
    }
    wait_for_file "$MUNGE_DIR/munged.pid" 10 || die "munged wrote no PID file within 10 s."
    cp "$MUNGE_DIR/munged.pid" "$RUN_DIR/munged.pid"
    # round trip: encode a credential and decode it again
    timeout 10 munge -n -S "$MUNGE_SOCKET" | timeout 10 unmunge -S "$MUNGE_SOCKET" >/dev/null || {
        show_log_tail "$MUNGE_DIR/munged.log"
        die "munge credential round trip failed on $MUNGE_SOCKET."
    }
}

wait_for_file() {
    local f="$1" limit="$2" t=0
    while [[ ! -s "$f" ]]; do
        ((t >= limit * 10)) && return 1
        sleep 0.1
        t=$((t + 1))
    done
}

# Node hardware as slurmd sees it, e.g. "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1"
# plus REAL_MEM (MB).
probe_hardware() {
    local line
    line="$(timeout 20 slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1)" ||
        die "'slurmd -C' failed to report this node's hardware."
    HW="$(tr ' ' '\n' <<<"$line" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' ')"
    REAL_MEM="$(tr ' ' '\n' <<<"$line" | sed -n 's/^RealMemory=//p')"
    CPUS="$(tr ' ' '\n' <<<"$line" | sed -n 's/^CPUs=//p')"
    [[ "$REAL_MEM" =~ ^[0-9]+$ && "$CPUS" =~ ^[0-9]+$ ]] || die "could not parse 'slurmd -C' output: $line"
    OVERRIDES=""
    if [[ -n "$OFFER_CPUS" && "$OFFER_CPUS" != "$CPUS" ]]; then
        [[ "$OFFER_CPUS" =~ ^[1-9][0-9]*$ ]] || die "TOPOSCALE_SLURM_CPUS=$OFFER_CPUS is not a positive integer"
        # one socket of OFFER_CPUS cores; slurmd takes the configured count instead of the hardware's
        HW="CPUs=$OFFER_CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$OFFER_CPUS ThreadsPerCore=1 "
        OVERRIDES="SlurmdParameters=config_overrides"
        say "offering $OFFER_CPUS CPUs on $CPUS hardware CPUs (TOPOSCALE_SLURM_CPUS)"
        CPUS="$OFFER_CPUS"
    fi
}

write_conf() {
    probe_hardware
    local mem=$((REAL_MEM * MEM_PERCENT / 100))
    local per_cpu=$((mem / CPUS))
    ((per_cpu > 2048)) && per_cpu=2048
    install -d -m 0755 "$STATE_DIR/etc" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR" "$RUN_DIR"
    local tmp="$CONF.tmp.$$"
    cat >"$tmp" <<EOF
# Written by tools/slurm/start_cluster.sh: a private single-node test cluster. Do not edit; rerun the script.
ClusterName=toposcale
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no systemd, no cgroups in containers
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: sacct answers nothing, status comes from squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# keep finished jobs visible to 'squeue --states=all' for 300 s
MinJobAge=300
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
$OVERRIDES
NodeName=$NODE NodeAddr=127.0.0.1 ${HW}RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=$per_cpu
EOF
    mv "$tmp" "$CONF"
    printf 'export SLURM_CONF=%q\n' "$CONF" >"$STATE_DIR/env.sh"
    say "wrote $CONF (node $NODE: ${HW}RealMemory=$mem MB, DefMemPerCPU=$per_cpu MB)"
}

# snakemake-executor-plugin-slurm-jobstep removes SLURM_CONF (with every other SLURM_* variable but the job
# ids) from the environment of the `srun` it runs inside a job, so srun only finds the configuration at the
# compiled-in default path. Point that path at this cluster's file, unless something else owns it.
link_system_conf() {
    local target other
    if [[ -L "$SYSTEM_CONF" ]]; then
        target="$(readlink "$SYSTEM_CONF")"
        [[ "$target" == "$CONF" ]] && return 0
        other="${target%/etc/slurm.conf}"
        if [[ "$other" != "$target" && -s "$other/run/slurmctld.pid" ]] &&
            pid_alive "$(read_pid "$other/run/slurmctld.pid")"; then
            die "another test cluster owns $SYSTEM_CONF (state $other); stop it first: TOPOSCALE_SLURM_DIR=$other bash $(dirname "$0")/stop_cluster.sh"
        fi
    elif [[ -e "$SYSTEM_CONF" ]]; then
        die "$SYSTEM_CONF exists and was not written by this script: this machine has its own SLURM configuration. Use that cluster instead of a private one."
    fi
    install -d -m 0755 "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$CONF" "$SYSTEM_CONF"
    say "linked $SYSTEM_CONF -> $CONF (jobs' nested srun calls read the default path)"
}

port_free() { ! timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

start_daemon() {
    local name="$1"
    shift
    say "starting $name"
    rm -f "$RUN_DIR/$name.pid"
    # both daemons fork into the background and write their PID file
    timeout 30 "$@" || {
        show_log_tail "$LOG_DIR/$name.log"
        die "$name failed to start (log: $LOG_DIR/$name.log)."
    }
    wait_for_file "$RUN_DIR/$name.pid" 15 || {
        show_log_tail "$LOG_DIR/$name.log"
        die "$name wrote no PID file within 15 s (log: $LOG_DIR/$name.log)."
    }
}

wait_until_idle() {
    local deadline=$((SECONDS + READY_TIMEOUT)) state="" resumed=0
    while ((SECONDS < deadline)); do
        for name in slurmctld slurmd munged; do
            pid_alive "$(read_pid "$RUN_DIR/$name.pid")" || {
                show_log_tail "$LOG_DIR/$name.log"
                die "$name exited during start-up (log: $LOG_DIR/$name.log)."
            }
        done
        state="$(SLURM_CONF="$CONF" timeout 10 sinfo -h -n "$NODE" -o %T 2>/dev/null || true)"
        case "$state" in
        idle) return 0 ;;
        down* | drain* | fail*)
            if ((resumed == 0)); then
                say "node is '$state'; resuming it"
                SLURM_CONF="$CONF" timeout 10 scontrol update nodename="$NODE" state=resume || true
                resumed=1
            fi
            ;;
        esac
        sleep 0.5
    done
    show_log_tail "$LOG_DIR/slurmctld.log"
    show_log_tail "$LOG_DIR/slurmd.log"
    die "node $NODE not idle after $READY_TIMEOUT s (last sinfo state: '${state:-none}')."
}

main() {
    case "${1:-}" in
    "") ;;
    --no-install) NO_INSTALL=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d'
        exit 0
        ;;
    *) die "unknown argument '$1' (usage: start_cluster.sh [--no-install])" ;;
    esac
    check_settings
    install -d -m 0755 "$STATE_DIR"
    chmod 0755 "$STATE_DIR"
    if cluster_up; then
        link_system_conf
        say "already running (state $STATE_DIR); nothing to do"
        echo "export SLURM_CONF=$CONF"
        exit 0
    fi
    if any_daemon_alive; then
        say "found a half-running cluster in $STATE_DIR; stopping it first"
        TOPOSCALE_SLURM_DIR="$STATE_DIR" timeout 60 bash "$(dirname "$0")/stop_cluster.sh" --keep ||
            die "could not stop the half-running cluster in $STATE_DIR."
    fi
    [[ "$(id -u)" == 0 ]] || die "starting slurmd needs root (it switches to the job owner's user id)."
    install_packages
    port_free "$CTLD_PORT" || die "port $CTLD_PORT is in use; set TOPOSCALE_SLURM_CTLD_PORT to a free port."
    port_free "$SLURMD_PORT" || die "port $SLURMD_PORT is in use; set TOPOSCALE_SLURM_SLURMD_PORT to a free port."
    # a fresh start: no saved jobs or node states from an earlier cluster in this directory
    rm -rf "$STATE_DIR/ctld" "$STATE_DIR/d" "$RUN_DIR"
    write_conf
    link_system_conf
    start_munged
    export SLURM_CONF="$CONF"
    # -c: clear saved state; -i: ignore errors reading it
    start_daemon slurmctld slurmctld -c -i -f "$CONF"
    start_daemon slurmd slurmd -f "$CONF" -N "$NODE"
    wait_until_idle
    {
        echo "munged $(read_pid "$RUN_DIR/munged.pid")"
        echo "slurmctld $(read_pid "$RUN_DIR/slurmctld.pid")"
        echo "slurmd $(read_pid "$RUN_DIR/slurmd.pid")"
    } >"$STATE_DIR/pids"
    say "cluster up in $((SECONDS - T0)) s: node $NODE idle, partition debug; PIDs in $STATE_DIR/pids"
    say "clients: source $STATE_DIR/env.sh   (or: export SLURM_CONF=$CONF)"
}

main "$@"
