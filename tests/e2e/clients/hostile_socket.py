"""Another process writing garbage to llmobsd's shim socket.

Each attempt is something a broken or hostile process could send instead of
the shim's hello and ring (include/shim_ring.h). The daemon must count them
and go on; run.sh checks that it is still alive and recording afterwards,
and that its counters show the attempts.
Usage: hostile_socket.py SOCKET_PATH
"""
import fcntl
import mmap
import os
import socket
import struct
import sys
import time

MAGIC, VERSION, HDR = 0x736d6c6c, 1, 4096
RING = 64 * 1024
EVENT = 80  # sizeof(struct capture_event)


def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def hello(ring=RING, start=0, magic=MAGIC):
    return struct.pack("<IIIIQ", magic, VERSION, ring, 0, start)


def memfd(size, seal=True):
    fd = os.memfd_create("hostile", os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    return fd


def attempt(name, fn, path):
    try:
        fn(path)
        print(f"sent {name}", flush=True)
    except OSError as e:  # the daemon may hang up on us: that is fine
        print(f"sent {name} ({e.__class__.__name__}: {e})", flush=True)


def garbage(path):
    s = conn(path)
    s.send(os.urandom(512))
    s.send(b"\x00" * 24)
    time.sleep(0.1)


def pipe_fd(path):
    r, w = os.pipe()
    socket.send_fds(conn(path), [hello()], [r])


def unsealed(path):
    socket.send_fds(conn(path), [hello()], [memfd(HDR + RING, seal=False)])


def too_small(path):
    socket.send_fds(conn(path), [hello()], [memfd(HDR)])


def two_fds(path):
    socket.send_fds(conn(path), [hello()], [memfd(HDR + RING), memfd(HDR + RING)])


def bad_ring_size(path):
    socket.send_fds(conn(path), [hello(ring=RING + 8)], [memfd(HDR + RING + 8)])


def ring_scribbled(path):
    """A good hello, then positions and lengths from nowhere."""
    for case in range(3):
        fd = memfd(HDR + RING)
        m = mmap.mmap(fd, HDR + RING)
        s = conn(path)
        socket.send_fds(s, [hello()], [fd])
        time.sleep(0.15)
        if case == 0:    # producer far past the consumer
            m[0:8] = struct.pack("<Q", 1 << 50)
        elif case == 1:  # a committed record longer than the ring
            m[HDR:HDR + 16] = struct.pack("<IIQ", 0x7fffffff, 0, 0)
            m[0:8] = struct.pack("<Q", 4096)
        else:            # well framed, nonsense inside: kind 99, lies about sizes
            ev = struct.pack("<QQQQIIIIIIBBBB16s4x", 0, 1, 0, 0, 1, 1, 0, 10, 5, 3000,
                             99, 9, 0, 0, b"evil")
            assert len(ev) == EVENT
            rec = struct.pack("<IIQ", len(ev) + 8, 0, 0) + ev + b"12345678"
            m[HDR:HDR + len(rec)] = rec
            m[0:8] = struct.pack("<Q", (len(rec) + 15) & ~15)
        s.send(b"k")
        time.sleep(0.3)
        m.close()
        os.close(fd)
        s.close()


def junk_after_hello(path):
    fd = memfd(HDR + RING)
    s = conn(path)
    socket.send_fds(s, [hello()], [fd])
    for _ in range(40):
        s.send(b"not a kick")
    time.sleep(0.2)


def many_connections(path):
    socks = [conn(path) for _ in range(64)]
    time.sleep(0.2)
    for s in socks:
        s.close()


def main():
    path = sys.argv[1]
    for name, fn in [("garbage", garbage), ("pipe instead of memfd", pipe_fd),
                     ("unsealed memfd", unsealed), ("memfd too small", too_small),
                     ("two fds", two_fds), ("ring size not a power of two", bad_ring_size),
                     ("scribbled rings", ring_scribbled), ("junk after hello", junk_after_hello),
                     ("64 idle connections", many_connections)]:
        attempt(name, fn, path)


if __name__ == "__main__":
    main()
