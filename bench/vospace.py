"""Benchmark: VOSpace listings, node creation and transfers over HTTP on loopback.

    python bench/vospace.py [--nodes 100000] [--create 2000] [--clients 4] [--megabytes 500]

Builds (once; kept between runs) a scratch database `hstvo_vospace_bench` in which user
`bench` has a container of `nodes` data nodes (made through vospace.create_node, the function
PUT /vospace/nodes calls). Starts `hstvo serve` on it and prints:
  - the latency of listing pages of 1,000 children (limit=1000 from a child's uri), at the
    start, middle and end of the container (goal: under 50 ms);
  - nodes created per second over HTTP (PUT /vospace/nodes) by `clients` clients;
  - upload and download MB/s of a `megabytes` file through /vospace/files, beside the same file
    sent to and fetched from a plain HTTP server on the same machine (uvicorn, the request body
    written to a file, the file sent back by sendfile): the goal is 80% of the plain copy. The
    plain server runs again computing the MD5 of what it receives, as VOSpace must, to show
    what the check costs on a machine whose cores the client shares.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import tempfile
import time

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import filled_scratch_database, serve  # noqa: E402
from hstvo.config import PROJECT_ROOT, load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402

NAME = "hstvo_vospace_bench"
TOKEN = "bench-vospace-token"
BIG = "/home/bench/big"
FILL = """
SELECT auth.add_user('bench');
SELECT auth.add_token('bench', '{token}');
SELECT vospace.act_as_operator();
SELECT vospace.create_node('{big}', 'container');
SELECT vospace.set_owner('{big}', 'bench');
SELECT count(vospace.create_node('{big}/n' || lpad(i::text, 7, '0'), 'data'))
  FROM generate_series(1, {nodes}) AS i;
ANALYZE vospace.node
"""
PLAIN_SERVER = '''
import sys
from starlette.applications import Starlette
from starlette.responses import FileResponse, Response
from starlette.routing import Route
import uvicorn

import hashlib
PATH = sys.argv[2]
MD5 = len(sys.argv) > 3

async def put(request):
    digest = hashlib.md5()
    with open(PATH, "wb") as out:
        async for chunk in request.stream():
            if MD5:
                digest.update(chunk)
            out.write(chunk)
    return Response(status_code=201, headers={"Digest": digest.hexdigest()})

async def get(request):
    return FileResponse(PATH)

app = Starlette(routes=[Route("/f", put, methods=["PUT"]), Route("/f", get)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            loop="uvloop", http="httptools")
'''


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def listing_latencies(base: str, nodes: int, pages: int = 20) -> dict[str, tuple[float, int]]:
    """Median milliseconds and children of a 1,000-node page at three places."""
    results = {}
    with httpx.Client(base_url=base, headers=headers(), timeout=60) as client:
        for label, index in (("first page", None), ("middle", nodes // 2), ("last page", nodes - 999)):
            params = {"limit": 1000}
            if index is not None:
                params["uri"] = f"vos://hstvo.example~vospace{BIG}/n{index:07d}"
            times = []
            for _ in range(pages):
                started = time.perf_counter()
                response = client.get(f"/vospace/nodes{BIG}", params=params)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            results[label] = (statistics.median(times), response.text.count("<vos:node ") - 1)
    return results


async def creation_rate(base: str, count: int, clients: int) -> float:
    """Nodes per second created by PUT /vospace/nodes."""
    run = os.urandom(4).hex()
    body = ('<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" uri="{uri}" '
            'xsi:type="vos:DataNode"><vos:properties/></vos:node>')
    async with httpx.AsyncClient(base_url=base, headers=headers(), timeout=60) as client:
        await client.put(f"/vospace/nodes/home/bench/c{run}", content=body.format(uri="").replace(
            'vos:DataNode', 'vos:ContainerNode'))
        queue = list(range(count))

        async def worker() -> None:
            while queue:
                i = queue.pop()
                path = f"/home/bench/c{run}/node{i}"
                response = await client.put(f"/vospace/nodes{path}", content=body.format(
                    uri=f"vos://hstvo.example~vospace{path}"))
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return count / (time.perf_counter() - started)


def chunks(path: Path):
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            yield block


def timed_transfer(client: httpx.Client, url: str, source: Path, target: Path,
                   rounds: int = 3) -> tuple[float, float]:
    """Median (upload MB/s, download MB/s) of `rounds` copies of `source` to `url` and back
    into `target`."""
    results = [_one_transfer(client, url, source, target) for _ in range(rounds)]
    return (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results))


def _one_transfer(client: httpx.Client, url: str, source: Path, target: Path) -> tuple[float, float]:
    size = source.stat().st_size
    started = time.perf_counter()
    response = client.put(url, content=chunks(source), headers={"Content-Length": str(size)})
    up = time.perf_counter() - started
    assert response.status_code == 201, response.text
    started = time.perf_counter()
    with client.stream("GET", url) as response, target.open("wb") as out:
        for block in response.iter_bytes(1 << 20):
            out.write(block)
    down = time.perf_counter() - started
    return size / up / 1e6, size / down / 1e6


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    for block in chunks(path):
        digest.update(block)
    return digest.hexdigest()


def transfers(base: str, megabytes: int, work: Path) -> None:
    source = work / "source.bin"
    block = os.urandom(1 << 20)
    with source.open("wb") as out:
        for i in range(megabytes):
            out.write(block[i % 997:] + block[:i % 997])
    rows = []
    for name, extra in (("plain HTTP (uvicorn)", []), ("plain HTTP + MD5", ["md5"])):
        plain_port = 8497
        plain = subprocess.Popen([sys.executable, "-c", PLAIN_SERVER, str(plain_port),
                                  str(work / "plain.bin"), *extra])
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{plain_port}/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.Client(timeout=600) as client:
                rows.append((name,) + timed_transfer(
                    client, f"http://127.0.0.1:{plain_port}/f", source, work / "plain.back"))
        finally:
            plain.terminate()
            plain.wait()
    with httpx.Client(timeout=600, headers=headers()) as client:
        rows.append(("/vospace/files",) + timed_transfer(
            client, f"{base}/vospace/files/home/bench/big.bin", source, work / "vos.back"))
    assert md5_of(work / "vos.back") == md5_of(source)
    print(f"\ntransfers of a {megabytes} MB file (MB/s, median of 3):")
    print(f"  {'':<22} {'upload':>8} {'download':>9}")
    for name, up, down in rows:
        print(f"  {name:<22} {up:>8.0f} {down:>9.0f}")
    print(f"  VOSpace / plain: upload {rows[2][1] / rows[0][1]:.0%}, "
          f"download {rows[2][2] / rows[0][2]:.0%} (goal 80%)")
    print(f"  VOSpace / plain + MD5 (the check every upload gets): upload "
          f"{rows[2][1] / rows[1][1]:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--create", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--port", type=int, default=8496)
    args = parser.parse_args()

    url = filled_scratch_database(
        database_url(load_settings()), NAME,
        FILL.format(token=TOKEN, big=BIG, nodes=args.nodes),
        f"SELECT count(*) FROM vospace.node WHERE name LIKE 'n%' AND parent = "
        f"(SELECT id FROM vospace.node WHERE name = 'big')", (args.nodes,))
    with tempfile.TemporaryDirectory(dir=PROJECT_ROOT / "var") as work:
        env_storage = Path(work) / "storage"
        os.environ["HSTVO_STORAGE"] = str(env_storage)
        server = serve(url, args.port, probe="/vospace/availability")
        base = f"http://127.0.0.1:{args.port}"
        try:
            print(f"listing a container of {args.nodes:,} nodes, pages of 1,000 (median of 20):")
            for label, (ms, count) in listing_latencies(base, args.nodes).items():
                print(f"  {label:<11} {ms:6.1f} ms  ({count} nodes)")
            rate = asyncio.run(creation_rate(base, args.create, args.clients))
            print(f"\nnode creation over HTTP ({args.clients} clients): {rate:,.0f} nodes/s")
            transfers(base, args.megabytes, Path(work))
        finally:
            server.terminate()
            server.wait()
    with psycopg.connect(url, autocommit=True) as conn:  # the next run starts from the same tree
        conn.execute("SELECT vospace.act_as_operator()")
        for (path,) in conn.execute("SELECT c->>'path' FROM vospace.children('/home/bench') c"):
            if path != BIG:
                conn.execute("SELECT count(*) FROM vospace.delete_node(%s)", (path,))

if __name__ == "__main__":
    main()
