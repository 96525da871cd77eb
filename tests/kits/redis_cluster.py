"""A real Redis Cluster for tests: 3 masters on 127.0.0.1, bounded in time, always stopped.

:func:`redis_cluster` starts ``redis-server --cluster-enabled yes`` nodes on free ports (client
and cluster-bus ports both picked free, ``--cluster-port``), joins them with
``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`` (16384 slots split in
three) and waits until every node reports ``cluster_state:ok``. It skips the test when
``redis-server`` or ``redis-cli`` is not installed.

The nodes run with ``cluster-require-full-coverage no``: while one master is down the others
keep answering for their own slots, and only keys hashing to the missing node fail (what a
reader must turn into "unavailable" for those keys only). Data survives a restart:
:meth:`RedisClusterKit.node_down` stops a node with ``SHUTDOWN SAVE`` (an RDB in its own
folder) and starts it again on the same ports, where it reloads its data and its slots from
``nodes.conf``.

Example::

    with redis_cluster(tmp_path) as cluster:
        os.environ["SLIPWAY_REDIS_CLUSTER_URL"] = cluster.connection_string
        port = cluster.port_for_key(b"some key")
        with cluster.node_down(port):
            ...  # keys on `port` fail, the rest are served
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from foundation.ports import LOOPBACK, free_port

NODES = 3
START_TIMEOUT = 30.0
"""Seconds for the whole cluster to come up (nodes listening, slots assigned, state ok)."""

NODE_TIMEOUT_MS = 1000
"""``cluster-node-timeout``: how soon the other nodes mark a stopped one as failed."""


@dataclass
class ClusterNode:
    """One ``redis-server`` of the cluster.

    Attributes:
        port: Client port on 127.0.0.1.
        bus_port: Cluster bus port.
        folder: Its working folder (``nodes.conf``, ``dump.rdb``, ``redis.log``).
        proc: The running process, or None while it is down.
    """

    port: int
    bus_port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = None

    def command(self, binary: str) -> list[str]:
        """The command line that starts this node (the same on every restart)."""
        return [
            binary,
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            str(self.bus_port),
            "--cluster-config-file",
            str(self.folder / "nodes.conf"),
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-require-full-coverage",
            "no",
            "--dir",
            str(self.folder),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(self.folder / "redis.log"),
        ]


@dataclass
class RedisClusterKit:
    """A running cluster and what tests do to it.

    Attributes:
        nodes: The masters, by client port.
        server: Path of ``redis-server``.
        cli: Path of ``redis-cli``.
    """

    nodes: dict[int, ClusterNode]
    server: str
    cli: str

    @property
    def ports(self) -> list[int]:
        """Client ports of the nodes."""
        return sorted(self.nodes)

    @property
    def connection_string(self) -> str:
        """Feast's ``connection_string`` for ``redis_type: redis_cluster`` (every node)."""
        return ",".join(f"{LOOPBACK}:{port}" for port in self.ports)

    def redis_cli(self, port: int, *args: str, timeout: float = 10.0) -> str:
        """Run ``redis-cli -p port args...`` and return its stdout (raises on failure)."""
        done = subprocess.run(
            [self.cli, "-h", LOOPBACK, "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return done.stdout

    def port_for_key(self, key: bytes) -> int:
        """The client port of the master that owns ``key``'s hash slot."""
        import redis

        from_node = next(port for port in self.ports if self.nodes[port].proc is not None)
        with redis.Redis(host=LOOPBACK, port=from_node, socket_timeout=5) as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(master[1])
        raise AssertionError(f"no node owns slot {slot}")

    def keys_per_node(self) -> dict[int, int]:
        """How many keys each node holds (``DBSIZE``), by client port."""
        return {port: int(self.redis_cli(port, "DBSIZE").strip()) for port in self.ports}

    def stop_node(self, port: int) -> None:
        """Stop one node after saving its data (``SHUTDOWN SAVE``); it stays down."""
        node = self.nodes[port]
        if node.proc is None:
            return
        done = subprocess.run(
            [self.cli, "-h", LOOPBACK, "-p", str(port), "SHUTDOWN", "SAVE"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        _wait_exit(node.proc)
        code, node.proc = node.proc.returncode, None
        if code != 0 or not (node.folder / "dump.rdb").is_file():
            pytest.fail(f"node {port} did not save and stop (exit {code}): {done.stderr}")

    def start_node(self, port: int) -> None:
        """Start a stopped node again (same ports and folder) and wait for ``cluster_state:ok``."""
        node = self.nodes[port]
        if node.proc is not None:
            return
        node.proc = _spawn(node, self.server)
        _wait_listening(node)
        self.wait_ok(timeout=START_TIMEOUT)

    @contextmanager
    def node_down(self, port: int) -> Iterator[None]:
        """Stop ``port`` for the ``with`` block (data saved), then start it again."""
        self.stop_node(port)
        try:
            yield
        finally:
            self.start_node(port)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Freeze every node (SIGSTOP) for the ``with`` block, then thaw them (SIGCONT).

        All nodes stop and resume together, so none sees another miss its pings for longer
        than it was frozen itself; data and slots are intact afterwards.
        """
        running = [node.proc for node in self.nodes.values() if node.proc is not None]
        for proc in running:
            proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            for proc in running:
                proc.send_signal(signal.SIGCONT)

    def flush(self) -> None:
        """Delete every key on every running node (``FLUSHALL``)."""
        for port, node in self.nodes.items():
            if node.proc is not None:
                self.redis_cli(port, "FLUSHALL")

    def wait_ok(self, *, timeout: float) -> None:
        """Wait until every running node reports ``cluster_state:ok`` and knows every master."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            states = []
            for port, node in self.nodes.items():
                if node.proc is None:
                    continue
                try:
                    info = self.redis_cli(port, "CLUSTER", "INFO", timeout=5)
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                    states.append(f"{port}: {exc}")
                    continue
                ok = "cluster_state:ok" in info and f"cluster_known_nodes:{len(self.nodes)}" in info
                states.append(f"{port}: {'ok' if ok else 'not ok'}")
            last = ", ".join(states)
            if states and all(state.endswith(": ok") for state in states):
                return
            time.sleep(0.1)
        pytest.fail(f"Redis Cluster not ok after {timeout:.0f} s ({last})")

    def stop(self) -> None:
        """Stop every node (no save), killing any that does not exit in time."""
        for node in self.nodes.values():
            if node.proc is not None:
                node.proc.terminate()
        for node in self.nodes.values():
            if node.proc is not None:
                _wait_exit(node.proc)
                node.proc = None


@contextmanager
def redis_cluster(folder: Path, *, nodes: int = NODES) -> Iterator[RedisClusterKit]:
    """A fresh ``nodes``-master Redis Cluster with its files under ``folder``; always stopped."""
    server = shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server/redis-cli are not installed (apt-get install redis-server)")
    members: dict[int, ClusterNode] = {}
    used: set[int] = set()
    for _ in range(nodes):
        port, bus = _two_free_ports(used)
        node_folder = folder / f"redis-{port}"
        node_folder.mkdir(parents=True)
        members[port] = ClusterNode(port=port, bus_port=bus, folder=node_folder)
    kit = RedisClusterKit(nodes=members, server=server, cli=cli)
    try:
        for node in members.values():
            node.proc = _spawn(node, server)
        for node in members.values():
            _wait_listening(node)
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"{LOOPBACK}:{port}" for port in kit.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=True,
        )
        kit.wait_ok(timeout=START_TIMEOUT)
        yield kit
    finally:
        kit.stop()


def _two_free_ports(used: set[int]) -> tuple[int, int]:
    while True:
        port, bus = free_port(), free_port()
        if port != bus and not {port, bus} & used:
            used.update((port, bus))
            return port, bus


def _spawn(node: ClusterNode, server: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        node.command(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_listening(node: ClusterNode, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc is not None and node.proc.poll() is not None:
            log = node.folder / "redis.log"
            tail = log.read_text(errors="replace")[-500:] if log.is_file() else ""
            pytest.fail(f"redis-server on {node.port} exited {node.proc.returncode}: {tail}")
        try:
            socket.create_connection((LOOPBACK, node.port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"redis-server did not listen on {node.port} within {timeout:.0f} s")


def _wait_exit(proc: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
