#!/usr/bin/env python3
"""The Python echo servers of bench/asyncio/net/compare.py: asyncio streams or a Protocol, on
asyncio's own loop or on uvloop's.

    python3 echo_cpython.py [--port N] [--protocol] [--uvloop]

Listens on 127.0.0.1 (port 0: the OS picks), prints "PORT <n>", and echoes until SIGTERM or
SIGINT. Streams: start_server, then reader.read(65536), writer.write, await writer.drain().
--protocol: a Protocol whose data_received writes to its transport. --uvloop: on uvloop's
loop (Debian's python3-uvloop is importable only by Debian's /usr/bin/python3). The listen
backlog is 4,096, as the C++ peers have it (asyncio's default, 100, makes a burst of 10,000
connects wait for SYN retransmits).
"""
import argparse
import asyncio
import signal
import socket
import sys


async def echo_stream(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()  # retrieves a reset, which would be logged otherwise
        except ConnectionError:
            pass


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)


async def serve(args):
    loop = asyncio.get_running_loop()
    if args.protocol:
        server = await loop.create_server(EchoProtocol, "127.0.0.1", args.port, backlog=4096)
    else:
        server = await asyncio.start_server(echo_stream, "127.0.0.1", args.port, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--protocol", action="store_true", help="a Protocol, not streams")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    args = parser.parse_args()
    loop_factory = None
    if args.uvloop:
        import uvloop
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
