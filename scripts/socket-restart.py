#!/usr/bin/env python3
"""A restart under socket activation loses no client: systemd's part, played by this script.

    socket-restart.py [BIN_DIR]        (default: target/release)

With a .socket unit, systemd owns the listening socket and hands a copy to each tcpproxy it
starts (LISTEN_FDS=1, LISTEN_PID, the socket as descriptor 3). When that tcpproxy stops, the socket
stays open in systemd, so a client that connects while no proxy runs is not refused: the kernel
completes its handshake and holds it in the socket's backlog until the next tcpproxy accepts it.

This script does exactly that part, with no systemd: it keeps the socket, starts tcpproxy on it,
stops it with SIGTERM, connects two clients while nothing runs, starts a second tcpproxy on the
same socket, and checks that both clients get the demo server's answer. It prints what happened and
PASS or FAIL; every wait is bounded, and it stops everything it started, by pid.
"""
import os
import signal
import socket
import subprocess
import sys
import time

BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else "target/release"
ANSWER = b"You were able to fetch the data."
PATIENCE = 10  # seconds for any one step


def start_demo_server():
    server = subprocess.Popen(
        [os.path.join(BIN_DIR, "demo-server"), "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()  # "listening on 127.0.0.1:PORT"
    return server, int(line.rsplit(":", 1)[1])


def start_proxy(listener, dest_port, log_path):
    """tcpproxy on the inherited socket, as systemd starts it."""
    def as_systemd_does():
        os.dup2(listener.fileno(), 3)
        os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()),
                          LISTEN_FDNAMES="tcpproxy")
    log = open(log_path, "a")
    return subprocess.Popen(
        [os.path.join(BIN_DIR, "tcpproxy"), "127.0.0.1", str(dest_port), "0"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        # Descriptor 3 is the socket's copy made in as_systemd_does; keep it open across exec.
        preexec_fn=as_systemd_does, pass_fds=(3,))


def wait_for_line(log_path, needle, count=1):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        with open(log_path) as log:
            if log.read().count(needle) >= count:
                return True
        time.sleep(0.05)
    return False


def ask_ok(client):
    client.sendall(b"GET /~rtm/ok\n")
    reply = b""
    while True:
        chunk = client.recv(4096)
        if not chunk:
            return reply
        reply += chunk


def main():
    log_path = f"/tmp/tcpproxy-socket-restart-{os.getpid()}.log"
    started = []
    try:
        server, dest_port = start_demo_server()
        started.append(server)
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        address = listener.getsockname()
        print(f"== the socket: {address[0]}:{address[1]}, held open by this script (systemd's part)")

        first = start_proxy(listener, dest_port, log_path)
        started.append(first)
        assert wait_for_line(log_path, "listening on"), "the first proxy did not start"
        with socket.create_connection(address, timeout=PATIENCE) as client:
            assert ask_ok(client).strip() == ANSWER, "the first proxy did not relay"
        print(f"== first tcpproxy (pid {first.pid}) relays; now SIGTERM")
        first.send_signal(signal.SIGTERM)
        assert first.wait(PATIENCE) == 0, "the first proxy did not exit 0"

        waiting = [socket.create_connection(address, timeout=PATIENCE) for _ in range(2)]
        for client in waiting:
            client.sendall(b"GET /~rtm/ok\n")
        print("== no tcpproxy runs; two clients connected anyway and sent their request")

        second = start_proxy(listener, dest_port, log_path)
        started.append(second)
        answers = []
        for client in waiting:
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
            answers.append(reply.strip())
            client.close()
        second.send_signal(signal.SIGTERM)
        second.wait(PATIENCE)
        with open(log_path) as log:
            print("== both proxies' log:")
            sys.stdout.write("".join("    " + line for line in log))
        if answers == [ANSWER, ANSWER]:
            print(f"PASS: both clients that connected during the restart got {ANSWER.decode()!r} "
                  f"from the second tcpproxy (pid {second.pid})")
            return 0
        print(f"FAIL: the clients got {answers!r}")
        return 1
    except (AssertionError, OSError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
        if os.path.exists(log_path):
            os.unlink(log_path)


if __name__ == "__main__":
    sys.exit(main())
