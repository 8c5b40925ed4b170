"""Screenshots of the main pages for docs/screenshots/ (`make screenshots`).

A fresh instance in a temporary PAPERWIRE_HOME imports the demo corpus and serves it on a free
port of 127.0.0.1; headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) takes
each page at 1280 and 390 px wide, light and dark, the size of a screen (not the whole page).
Nothing outside this repository is read, so the pictures are the same on every machine but for
the clock: pages that say "today" or "2 days ago" follow the date they are taken on.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "paperwire" / "demo" / "attention_papers.jsonl"
CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "home": "/",
    "paper": "/papers/2410.10781",
    "search": "/search?q=attention+sink",
    "trending": "/papers/trending",
    "subscribe": "/subscribe",
}
SCREENS = {1280: 800, 390: 844}  # width: height, a laptop and a phone
SCHEMES = ("light", "dark")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def paperwire(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "paperwire", *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def wait_until_whole(url: str, process: subprocess.Popen, seconds: float = 300) -> None:
    """Until /healthz says the search index is whole (the search page then shows every match)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("paperwire serve stopped before answering")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as answer:
                if json.load(answer)["status"] == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/healthz did not say ok within {seconds:.0f} s")


def take(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for width, height in SCREENS.items():
            for scheme in SCHEMES:
                context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                page = context.new_page()
                for name, path in PAGES.items():
                    page.goto(url + path, wait_until="networkidle")
                    target = out / f"{name}-{width}-{scheme}.png"
                    page.screenshot(path=target)
                    written.append(target)
                context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperwire-screenshots-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERWIRE_", "DATABASE_URL"))}
        env.update(PAPERWIRE_HOME=home, PAPERWIRE_SECRET_KEY="screenshots-only-" + "x" * 40, PAPERWIRE_DEBUG="0")
        paperwire("migrate", "--noinput", env=env)
        paperwire("import", str(DEMO), env=env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "paperwire", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_whole(url, server)
            written = take(url, out)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
