"""The pubsub read-ahead buffer (swarmclient/net/gossip.py _ReadAhead) over a real Yamux
stream between two py-libp2p hosts: length-prefixed frames of every awkward size come out
exactly as written, and the end of the stream raises what the stream itself raises."""

from __future__ import annotations

import random

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from swarmclient.net.gossip import READ_AHEAD_BYTES, _ReadAhead

from netutil import star

PROTOCOL = TProtocol("/swarm-test/read-ahead/1")
# Around varint byte boundaries (127/128, 16383/16384) and the read-ahead size.
SIZES = [0, 1, 127, 128, 129, 16383, 16384, READ_AHEAD_BYTES - 3, READ_AHEAD_BYTES, READ_AHEAD_BYTES + 1,
         3 * READ_AHEAD_BYTES + 7, 2, 300]


async def test_frames_of_every_size_come_out_as_written():
    rng = random.Random(7)
    frames = [rng.randbytes(n) for n in SIZES] + [rng.randbytes(rng.randrange(0, 5000)) for _ in range(40)]
    received: list[bytes] = []
    done = trio.Event()

    async def handler(stream) -> None:
        reader = _ReadAhead(stream)
        for _ in frames:
            received.append(await read_varint_prefixed_bytes_limited(reader, 1 << 20))
        with pytest.raises(StreamEOF):  # the writer closed: the stream's own end, not a hang
            await reader.read(1)
        done.set()

    with trio.fail_after(30):
        async with star(2, swarm_id="readahead") as (a, b):
            b.host.set_stream_handler(PROTOCOL, handler)
            stream = await a.host.new_stream(b.peer_id, [PROTOCOL])
            # Written in uneven pieces, so frames straddle Yamux frames and reads.
            data = b"".join(encode_varint_prefixed(f) for f in frames)
            at = 0
            while at < len(data):
                step = rng.choice([1, 3, 100, 4096, 70000])
                await stream.write(data[at:at + step])
                at += step
            await stream.close()
            await done.wait()
    assert received == frames


@pytest.mark.parametrize("n", [None, -1])
async def test_read_without_a_size_returns_what_is_buffered(n):
    got: list[bytes] = []
    done = trio.Event()

    async def handler(stream) -> None:
        reader = _ReadAhead(stream)
        got.append(await reader.read(3))
        got.append(await reader.read(n))
        done.set()

    with trio.fail_after(20):
        async with star(2, swarm_id="readahead-all") as (a, b):
            b.host.set_stream_handler(PROTOCOL, handler)
            stream = await a.host.new_stream(b.peer_id, [PROTOCOL])
            await stream.write(b"abcdefgh")
            await done.wait()
    assert got[0] == b"abc" and b"abcdefgh".startswith(got[0] + got[1]) and got[1]
