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
free = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemFree:"):
            free = int(line.split()[1]) << 10
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
