#!/usr/bin/env python3
# Latency, jitter and loss between test hosts, for kernels without sch_netem (`tc qdisc ...
# netem` answers "Specified qdisc kind is unknown" on the machines this project tests on).
# An nftables rule sends the packets to NFQUEUE; this process holds each one for
# delay +/- jitter ms (uniform, in order: a packet never overtakes an earlier one, as on a real
# link) and then accepts it, or drops it with probability loss %. Only the packet's id crosses
# to user space (copy mode "meta"); the packet itself stays in the kernel.
#
#   netem-queue.py --queue 7 --delay 50 --jitter 10 --loss 1
#
# Speaks nfnetlink_queue over a raw netlink socket (Python's socket module has AF_NETLINK;
# no library is needed). Exits on SIGTERM; the rule's `bypass` lets packets through if it is gone.

import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
NF_DROP = 0
NF_ACCEPT = 1


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def message(msg_type, queue, attrs, seq):
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + b''.join(attrs)
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg_type
    return struct.pack('=IHHII', 16 + len(body), kind, NLM_F_REQUEST, seq, 0) + body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--queue', type=int, required=True)
    parser.add_argument('--delay', type=float, default=50.0)
    parser.add_argument('--jitter', type=float, default=0.0)
    parser.add_argument('--loss', type=float, default=0.0)
    parser.add_argument('--seed', type=int, default=None)
    opts = parser.parse_args()
    rng = random.Random(opts.seed)

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    seq = 1
    bind = attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, socket.AF_UNSPEC))
    sock.send(message(NFQNL_MSG_CONFIG, opts.queue, [bind], seq))
    seq += 1
    params = attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META) + b'\0\0\0')
    maxlen = attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack('!I', 8192))
    sock.send(message(NFQNL_MSG_CONFIG, opts.queue, [params, maxlen], seq))
    seq += 1

    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    signal.signal(signal.SIGINT, lambda *_: running.__setitem__(0, False))
    sys.stdout.write('ready\n')
    sys.stdout.flush()

    held = []  # (release time, order, packet id, verdict)
    order = 0
    last_release = 0.0
    counts = {'accepted': 0, 'dropped': 0}
    while running[0]:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, packet_id, verdict = heapq.heappop(held)
            hdr = attr(NFQA_VERDICT_HDR, struct.pack('!II', verdict, packet_id))
            sock.send(message(NFQNL_MSG_VERDICT, opts.queue, [hdr], seq))
            seq += 1
            counts['accepted' if verdict == NF_ACCEPT else 'dropped'] += 1
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        try:
            ready, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        if not ready:
            continue
        try:
            data = sock.recv(1 << 16)
        except OSError:
            continue  # ENOBUFS: the kernel dropped a notification; its packet falls to the queue's fail-open
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _flags, _seq, _pid = struct.unpack_from('=IHHII', data, offset)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                pos = offset + 20
                end = offset + length
                while pos + 4 <= end:
                    alen, atype = struct.unpack_from('=HH', data, pos)
                    if alen < 4:
                        break
                    if (atype & 0x7fff) == NFQA_PACKET_HDR:
                        (packet_id,) = struct.unpack_from('!I', data, pos + 4)
                        now = time.monotonic()
                        lose = rng.random() * 100.0 < opts.loss
                        wait = max(0.0, opts.delay + rng.uniform(-opts.jitter, opts.jitter)) / 1000.0
                        release = max(last_release, now + wait)
                        last_release = release
                        order += 1
                        heapq.heappush(held, (release, order, packet_id, NF_DROP if lose else NF_ACCEPT))
                    pos += (alen + 3) & ~3
            elif kind == NLMSG_ERROR:
                (errno,) = struct.unpack_from('=i', data, offset + 16)
                if errno != 0:
                    sys.stderr.write('netlink error %d (%s)\n' % (-errno, os.strerror(-errno)))
                    sys.stderr.flush()
            offset += (length + 3) & ~3
    sys.stdout.write('accepted %d dropped %d\n' % (counts['accepted'], counts['dropped']))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
