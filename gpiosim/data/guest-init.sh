# PID 1 of the gpiosim guest (gpiosim/guest/_run.py boots it as `init=/bin/sh -- THIS`).
#
# The root filesystem is the host's, shared read-only over 9p, so this script,
# the shell and every program it runs are the host's own.  The host leaves the
# job on a small read-write 9p share (tag gpiosim-job, mounted at /run/gpiosim):
#   exec   NUL-terminated arguments for `env -i`: -C CWD -- NAME=VALUE... CMD ARG...
#   fstab  the job's own mounts: a writable /tmp and the project folder
# and reads back `status` (the command's exit status) or `error`.  What this
# script prints goes to the kernel console (ttyS0), which the host shows only
# on a failure or when asked: the command's output has two virtio ports.
#
# Every exec costs 50-150 ms under TCG: keep them few.
# No `set -e`: any failure must still end in the reboot below, never in a guest
# that waits for the host's timeout.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
here=${0%/*}
job=/run/gpiosim
status=

fail() {
    echo "gpiosim-init: $*"
    echo "$*" > "$job/error"
    status=125
}

# The kernel's DEVTMPFS_MOUNT has mounted /dev; proc, sys, /run, the job share...
mount -a -T "$here/guest-fstab" || fail "cannot make the guest's mounts"
# The overlay's layers for /tmp (see the job's fstab).
mkdir -p -m 1777 /run/gpiosim-tmp/upper /run/gpiosim-tmp/work
# /tmp: a writable in-memory overlay on the host's read-only /tmp, so that a
# virtual environment or checkout under the host's /tmp stays visible; then the
# project folder, read-write at its host path.
[ -z "$status" ] && { mount -a -T "$job/fstab" || fail "cannot mount /tmp or the project folder"; }

# The output ports: their /dev names depend on probe order, their names do not,
# and they may register a little after the driver's probe.
out=
err=
tries=0
while :; do
    for port in /sys/class/virtio-ports/vport*; do
        [ -r "$port/name" ] || continue
        read -r name < "$port/name"
        case $name in
            gpiosim.stdout) out=/dev/${port##*/} ;;
            gpiosim.stderr) err=/dev/${port##*/} ;;
        esac
    done
    [ -c "$out" ] && [ -c "$err" ] && break
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ]; then
        echo "gpiosim-init: the output ports did not appear; using the console"
        out=/dev/console
        err=/dev/console
        break
    fi
    sleep 0.01
done

if [ -z "$status" ]; then
    # bash's mapfile reads the NUL-separated job exactly, and "${a[@]}" hands it
    # to env as an argument vector: nothing of the command is parsed by a shell.
    # env -i: the environment is exactly the caller's, as the host wrote it.
    # env exits 125 if the folder is missing, 126 if the command cannot run,
    # 127 if it does not exist.
    /bin/bash -c 'mapfile -d "" -t a < "$1" && exec env -i "${a[@]}"' gpiosim-run "$job/exec" \
        < /dev/null > "$out" 2> "$err"
    status=$?
fi

echo "$status" > "$job/status"
# sysrq b reboots at once, without syncing, and the project share caches writes
# (cache=loose): flush them first.  qemu runs with -no-reboot: the reboot ends it.
sync
echo b > /proc/sysrq-trigger
