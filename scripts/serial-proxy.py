#!/usr/bin/env python3
"""A deliberately broken proxy for testing the test: it serves one client at a time.

    serial-proxy.py DEST_HOST DEST_PORT LISTEN_PORT

Each client is relayed to the destination, both ways, until both sides close; only then is the next
client accepted. A client that stops reading therefore stalls everyone behind it, which is exactly
what scripts/big-ok-test.sh must catch (it has to print FAIL against this).
"""
import selectors
import socket
import sys


def relay(client, server):
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, server)
    sel.register(server, selectors.EVENT_READ, client)
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            data = key.fileobj.recv(65536)
            if data:
                key.data.sendall(data)  # blocks while the peer does not read: the flaw on purpose
            else:
                sel.unregister(key.fileobj)
                key.data.shutdown(socket.SHUT_WR)
                open_ends -= 1


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: serial-proxy.py DEST_HOST DEST_PORT LISTEN_PORT")
    host, port, listen_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    listener = socket.create_server(("127.0.0.1", listen_port))
    while True:
        client, _ = listener.accept()
        try:
            with socket.create_connection((host, port)) as server:
                relay(client, server)
        except OSError as e:
            print(f"serial-proxy: {e}", file=sys.stderr)
        finally:
            client.close()


if __name__ == "__main__":
    main()
