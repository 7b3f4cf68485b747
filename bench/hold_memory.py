#!/usr/bin/python3
"""hold_memory.py LEAVE_MB — the crawl benchmark's steady state. Takes all free
memory but LEAVE_MB as touched shared memory and holds it until killed, so
that every tool's writes go into recycled page cache. On this VM memory the
guest has freed is handed back to the hypervisor, and touching it again is
slow (~0.3 GB/s): without this, a run's speed depends on how much fresh
memory it happens to write into (curl varied 800-4,800 files/s run to run).
Prints "holding N MB" once it holds it."""
import mmap
import signal
import sys

leave = int(sys.argv[1]) << 20
# the first to go if memory runs short: the benchmark then warns
with open("/proc/self/oom_score_adj", "w") as f:
    f.write("1000")
free = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemFree:"):
            free = int(line.split()[1]) << 10
# in a container /proc/meminfo shows the host's: keep under the cgroup's limit
try:
    with open("/sys/fs/cgroup/memory.max") as f, open("/sys/fs/cgroup/memory.current") as g:
        limit = f.read().strip()
        if limit != "max":
            free = min(free, int(limit) - int(g.read().strip()))
except OSError:
    pass
step = 64 << 20
n = (free - leave) // step * step
if n <= 0:
    print("holding 0 MB (under %d MB free)" % (leave >> 20), flush=True)
    signal.pause()
m = mmap.mmap(-1, n)
chunk = b"\1" * step
for off in range(0, n, step):
    m[off:off + step] = chunk
print("holding %d MB" % (n >> 20), flush=True)
signal.pause()
