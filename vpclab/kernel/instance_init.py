"""PID 1 of an instance's PID namespace: it keeps the namespace alive and reaps orphans.

Run as `python -I -S instance_init.py` (standard library only, nothing of vpclab is
imported, so it costs about 3.5 MB of private memory per instance), already confined:
`confinement.init_argv` made its namespaces, mounts and host name and dropped its
capabilities before exec.

- A PID namespace lives as long as its PID 1, so services that user data starts
  (`systemctl start nginx` daemonizes) keep running after the script exits.
- Orphans are re-parented to PID 1: it reaps them, so no zombie keeps a pid that
  `kill -0` (the systemctl stand-in's liveness test) still finds.
- SIGTERM (the instance stops): pass it on to every process of the namespace, then exit
  once no other is left; when PID 1 exits the kernel kills whatever is left. The data
  plane sends SIGKILL after its grace period.
"""
import os
import signal
import sys

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _reap() -> bool:
    """Collect every exited child; False once no child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _others() -> bool:
    """True while a process other than this one is in the namespace (its /proc)."""
    return any(name.isdigit() and name != "1" for name in os.listdir("/proc"))


def main() -> int:
    # Signals stay blocked and are taken with sigwait. Handlers are installed too: the
    # kernel delivers a signal to a namespace's PID 1 only if it has a handler for it.
    for signum in SIGNALS:
        signal.signal(signum, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    stopping = False
    while True:
        children = _reap()
        if stopping:
            # Commands entered by `vpclab exec` are not this process's children: wait
            # for them too, polling (their exit sends no SIGCHLD here).
            if not children and not _others():
                return 0
            signal.sigtimedwait(SIGNALS, 0.1)  # a signal or 0.1 s, then reap and look again
            continue
        sig = signal.sigwait(SIGNALS)
        if sig in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            try:
                os.kill(-1, signal.SIGTERM)  # every process of the namespace but this one
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    if os.getpid() != 1:
        sys.stderr.write("instance_init: not PID 1 of a PID namespace\n")
        sys.exit(2)
    sys.exit(main())
