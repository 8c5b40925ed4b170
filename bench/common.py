"""What the benchmarks share: a Django set up on a home of their own, and SciFact as import JSONL."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Research topics, as digest subscribers and searchers would type them.
TOPICS = [
    "diffusion models for video",
    "reinforcement learning from human feedback",
    "mixture of experts",
    "long context language models",
    "multimodal reasoning",
    "code generation",
    "robot manipulation",
    "speech recognition",
    "3D gaussian splatting",
    "retrieval augmented generation",
    "agents and tool use",
    "mathematical reasoning",
    "image editing",
    "model quantization",
    "evaluation benchmarks",
    "safety and alignment",
    "text to speech",
    "world models",
    "vision transformers",
    "efficient attention",
    "synthetic data",
    "knowledge distillation",
    "medical imaging",
    "graph neural networks",
    "reward models",
    "video understanding",
]


def shared_data_folder() -> Path:
    return Path(os.environ.get("PAPERWIRE_SHARED_DATA", str(ROOT.parent / "shared" / "data")))


def setup_django(home: Path, **environment: str) -> None:
    """Point Paperwire at ``home`` (a fresh or reused PAPERWIRE_HOME), migrate, and set Django up."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({"PAPERWIRE_HOME": str(home), "DJANGO_SETTINGS_MODULE": "paperwire.settings", **environment})
    os.environ.setdefault("PAPERWIRE_MODEL_DIR", str(ROOT / ".cache" / "models"))
    os.environ.setdefault("PAPERWIRE_SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnop")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def scifact_jsonl(folder: Path, target: Path) -> Path:
    """SciFact's corpus as import JSONL, ids prefixed with ``scifact-``."""
    if not target.exists():
        with target.open("w") as out:
            for line in (folder / "corpus.jsonl").read_text().splitlines():
                doc = json.loads(line)
                record = {"id": f"scifact-{doc['_id']}", "title": doc["title"], "abstract": doc["text"]}
                out.write(json.dumps(record) + "\n")
    return target


def free_port() -> int:
    """A TCP port free on loopback, for a server the benchmark starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """An SMTP server on loopback that accepts every message and keeps none: the commands a
    sender uses (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), the message read in large
    chunks up to its ending dot. aiosmtpd reads a message line by line in Python; at a digest's
    size that costs about as much as Paperwire's own work for it, which a production mail
    server (C, not Python) does not. ``count`` messages and ``received`` bytes taken."""

    def __init__(self) -> None:
        import socketserver
        import threading

        sink = self

        class Session(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                reply = self.wfile.write
                reply(b"220 sink ESMTP\r\n")
                while line := self.rfile.readline(65536):
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        reply(b"250-sink\r\n250-SIZE 104857600\r\n250 8BITMIME\r\n")
                    elif verb == b"DATA":
                        reply(b"354 end with <CRLF>.<CRLF>\r\n")
                        message = bytearray()
                        while not (message.endswith(b"\r\n.\r\n") or message == b".\r\n"):
                            chunk = self.rfile.read1(1 << 16)
                            if not chunk:
                                return
                            message += chunk
                        with sink.lock:
                            sink.count += 1
                            sink.received += len(message)
                        reply(b"250 OK\r\n")
                    elif verb == b"QUIT":
                        reply(b"221 bye\r\n")
                        return
                    else:
                        reply(b"250 OK\r\n")

        self.count = self.received = 0
        self.lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
