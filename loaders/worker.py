"""`hstvo worker`: claim recalibration jobs, run them, report back.

A worker is thin: the queue decides what runs where (sql/73_work_queue.sql), the database says
what a dataset needs (hst.calibration_inputs). Each of `concurrency` slots, in its own thread
with its own connection:

1. returns expired leases to the queue (queue.reap_expired), then claims the best job this
   machine's resources satisfy (queue.claim); with none, it waits for a NOTIFY on queue_job;
2. keeps the job's lease alive with heartbeats while it works;
3. for `calibrate`: fetches the dataset's file and its reference files over HTTP from the
   archive (HSTVO_ARCHIVE_URL) into a local cache, runs the instrument's command in a scratch
   directory, sends the products back (PUT /files/HST/...), and ingests them in the same
   transaction that completes the job: a product is in the archive exactly when its job is
   completed, however often a job was started;
4. on failure reports the error (queue.fail: retried, or held after max_starts).

`noop` jobs do nothing (benchmarks), `shell` jobs run arguments.command, `build_mosaic` jobs
rebuild a HAP single-visit mosaic from its members (hst.mosaic_setup's command on the visit's
poller list).

SIGTERM (or SIGINT): no new claims; jobs in hand are finished, then the worker exits. A second
SIGTERM gives the jobs in hand back to the queue at once (queue.release_job).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

from hstvo.config import load_settings

log = logging.getLogger("hstvo.worker")

JOB_COLUMNS = "id, command, dataset, starts, arguments"  # what a worker reads of a claimed job


@dataclass
class WorkerConfig:
    """What this machine offers and how the worker behaves."""

    vm_type: str = "standard"
    cpus: int = 1
    memory_mb: int = 4096
    concurrency: int = 1
    once: bool = False
    lease_seconds: int = 60
    cache_dir: Path | None = None
    idle_exit_seconds: float | None = None
    command_timeout: int = 6 * 3600


class JobFailed(Exception):
    """The job cannot be done this time; the message says why (it goes to last_error)."""


class LeaseLost(Exception):
    """The job is no longer this worker's (its lease ran out): drop the work."""


class Worker:
    """Slots that claim and run jobs until stopped."""

    def __init__(self, url: str, config: WorkerConfig) -> None:
        self.url, self.config = url, config
        settings = load_settings()
        # a worker VM needs only DATABASE_URL: where the archive is, and the token that may
        # write products to it, come from the database unless the environment says otherwise
        self.archive = os.environ.get("HSTVO_ARCHIVE_URL") or self._setting("service_url") \
            or settings.archive_url
        self.token = settings.write_token or self._setting("files_write_token")
        # outside the checkout by default: a worker VM's cache is its own, not the project's
        self.cache = config.cache_dir or Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hstvo" / "worker"
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()  # no new claims
        self.abandon = threading.Event()  # give jobs in hand back now
        self.wake = threading.Condition()
        self.jobs_done = 0
        self.last_activity = time.monotonic()
        self.in_hand: dict[int, tuple[str, threading.Event]] = {}  # job id -> (slot, lease lost)
        self.in_hand_lock = threading.Lock()
        self.broken = False  # a slot died of an unexpected error

    def _setting(self, name: str) -> str | None:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SELECT hstvo.setting(%s)", (name,)).fetchone()[0]

    # -- running ---------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped (or one job with --once); 0 when every job ended cleanly."""
        self.cache.mkdir(parents=True, exist_ok=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signalled)
        log.info("worker %s: vm_type=%s cpus=%d memory=%d MB, %d slot(s), archive %s",
                 self.name, self.config.vm_type, self.config.cpus, self.config.memory_mb,
                 self.config.concurrency, self.archive)
        for target in (self._listen, self._keep_leases):
            threading.Thread(target=target, daemon=True, name=target.__name__).start()
        slots = [threading.Thread(target=self._guarded_slot, args=(i,), name=f"slot-{i}")
                 for i in range(max(1, self.config.concurrency))]
        for slot in slots:
            slot.start()
        while any(s.is_alive() for s in slots):
            for slot in slots:
                slot.join(timeout=0.2)
        log.info("worker %s stopped after %d job(s)", self.name, self.jobs_done)
        return 1 if self.broken else 0

    def _signalled(self, signum, frame) -> None:
        if self.stopping.is_set():
            log.warning("second signal: giving the jobs in hand back to the queue")
            self.abandon.set()
        else:
            log.info("signal %d: finishing the jobs in hand, no new claims", signum)
            self.stopping.set()
        with self.wake:
            self.wake.notify_all()

    def _listen(self) -> None:
        """Wake idle slots when a job is enqueued (LISTEN queue_job)."""
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute("LISTEN queue_job")
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            with self.wake:
                                self.wake.notify_all()
            except psycopg.OperationalError as exc:
                log.warning("listener lost the database (%s); reconnecting", exc)
                time.sleep(1)

    def _guarded_slot(self, index: int) -> None:
        try:
            self._slot(index)
        except Exception:
            log.exception("slot %d stopped on an unexpected error", index)
            self.broken = True

    def _slot(self, index: int) -> None:
        worker = f"{self.name}/{index}"
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            conn.execute("SELECT set_config('application_name', %s, false)",
                         (f"hstvo worker {worker}"[:63],))
            # A claim or a completion lost in a database crash (the last fraction of a second
            # before it) costs a re-run, never a wrong state: the job comes back when its lease
            # runs out, and a completion and its products' ingest commit (or vanish) together.
            # So the queue's commits do not wait for the disk: that wait was half of each job.
            conn.execute("SET synchronous_commit = off")
            job = None
            while not self.stopping.is_set() or job is not None:
                if job is None:
                    job = self._claim(conn, worker)
                if job is None:
                    if self.config.once and self.jobs_done == 0 and not self._within_reach(conn):
                        log.info("slot %d: --once and no job this worker can run: stopping", index)
                        self.stopping.set()
                        break
                    if self._idle_too_long():
                        self.stopping.set()
                        break
                    with self.wake:
                        self.wake.wait(timeout=1.0)
                    continue
                self.last_activity = time.monotonic()
                job = self._run(conn, worker, job)
                self.jobs_done += 1
                self.last_activity = time.monotonic()
                if self.config.once:
                    self.stopping.set()
                    with self.wake:
                        self.wake.notify_all()

    def _within_reach(self, conn: psycopg.Connection) -> bool:
        """Whether a job this worker could run is idle, or running under a lease that may run
        out (queue.jobs_within_reach)."""
        row = conn.execute("SELECT queue.jobs_within_reach(%s, %s, %s) AS n",
                           (self.config.vm_type, self.config.cpus, self.config.memory_mb)).fetchone()
        return row["n"] > 0

    def _idle_too_long(self) -> bool:
        limit = self.config.idle_exit_seconds
        return limit is not None and time.monotonic() - self.last_activity > limit

    def _claim(self, conn: psycopg.Connection, worker: str) -> dict | None:
        if self.stopping.is_set():
            return None
        return conn.execute(f"SELECT {JOB_COLUMNS} FROM queue.claim(%s, %s, %s, %s, %s)",
                            (worker, self.config.vm_type, self.config.cpus,
                             self.config.memory_mb, self.config.lease_seconds)).fetchone()

    def _keep_leases(self) -> None:
        """Heartbeats for every job in hand, and the reaper, on one connection: a third of
        the lease apart."""
        interval = max(0.2, self.config.lease_seconds / 3)
        while True:
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    while True:
                        conn.execute("SELECT queue.reap_expired()")
                        with self.in_hand_lock:
                            jobs = list(self.in_hand.items())
                        for job_id, (worker, lost) in jobs:
                            kept = conn.execute("SELECT queue.heartbeat(%s, %s, %s)",
                                                (job_id, worker, self.config.lease_seconds)).fetchone()[0]
                            if not kept:
                                lost.set()
                        time.sleep(interval)
            except psycopg.OperationalError as exc:
                log.warning("heartbeats lost the database (%s); reconnecting", exc)
                time.sleep(1)

    # -- one job ---------------------------------------------------------------------------

    def _run(self, conn: psycopg.Connection, worker: str, job: dict) -> dict | None:
        """Do one job and report it; the next job when completing claimed one in passing."""
        # a no-op job is logged at DEBUG only: thousands a second would drown the log
        log.log(logging.DEBUG if job["command"] == "noop" else logging.INFO,
                "job %s (%s %s) claimed by %s, start %d", job["id"], job["command"],
                job["dataset"] or "-", worker, job["starts"])
        lost = threading.Event()
        with self.in_hand_lock:
            self.in_hand[job["id"]] = (worker, lost)
        try:
            handler = {"noop": self._noop, "shell": self._shell, "calibrate": self._calibrate,
                       "build_mosaic": self._build_mosaic}.get(job["command"])
            if handler is None:
                raise JobFailed(f"unknown command {job['command']!r}")
            result, products = handler(job, worker, lost)
            with self.in_hand_lock:
                del self.in_hand[job["id"]]
            return self._complete(conn, worker, job, result, products)
        except LeaseLost as exc:
            log.warning("job %s: %s", job["id"], exc)
        except AbandonJob:
            self._release(conn, job["id"], worker)
        except (JobFailed, httpx.HTTPError, OSError, psycopg.Error) as exc:
            self._fail(conn, job["id"], worker, f"{type(exc).__name__}: {exc}"
                       if not isinstance(exc, JobFailed) else str(exc))
        finally:
            with self.in_hand_lock:
                self.in_hand.pop(job["id"], None)
        return None

    def _complete(self, conn: psycopg.Connection, worker: str, job: dict, result: dict | None,
                  products: list | None = None) -> dict | None:
        """Complete the job, ingesting its products in the same transaction; without products,
        claim the next job in the same call (one round trip per job)."""
        try:
            if not products:
                return conn.execute(
                    f"SELECT {JOB_COLUMNS} FROM queue.complete_and_claim(%s, %s, %s, %s, %s, %s, %s)",
                    (job["id"], worker, result and json.dumps(result), None if self.stopping.is_set()
                     else self.config.vm_type, self.config.cpus, self.config.memory_mb,
                     self.config.lease_seconds)).fetchone()
            from .fits_ingest import ingest_batch

            with conn.transaction():
                conn.execute("SELECT queue.own_job(%s, %s)", (job["id"], worker))
                summary = ingest_batch(conn, products)
                if summary.get("refusals"):
                    raise JobFailed(f"products refused by the ingest: {summary['refusals']}")
                result = {**result, "ingested": summary.get("ingested")}
                conn.execute("SELECT queue.complete(%s, %s, %s)",
                             (job["id"], worker, json.dumps(result)))
            log.info("job %s completed: %s", job["id"], result)
            return None
        except psycopg.Error as exc:
            if exc.diag.sqlstate == "QU002":
                raise LeaseLost(exc.diag.message_primary) from None
            raise

    def _fail(self, conn: psycopg.Connection, job_id: int, worker: str, error: str) -> None:
        try:
            outcome = conn.execute("SELECT queue.fail(%s, %s, %s) AS s",
                                   (job_id, worker, error[:2000])).fetchone()["s"]
            log.error("job %s failed (%s): %s", job_id, outcome, error)
        except psycopg.Error as exc:
            log.warning("job %s failed (%s) but is no longer ours: %s", job_id, error,
                        exc.diag.message_primary)

    def _release(self, conn: psycopg.Connection, job_id: int, worker: str) -> None:
        try:
            conn.execute("SELECT queue.release_job(%s, %s)", (job_id, worker))
            log.info("job %s given back to the queue", job_id)
        except psycopg.Error as exc:
            log.warning("job %s: %s", job_id, exc.diag.message_primary)

    # -- commands --------------------------------------------------------------------------

    def _noop(self, job: dict, worker: str, lost: threading.Event) -> tuple[dict | None, list]:
        return None, []  # the history says which worker did it

    def _shell(self, job: dict, worker: str, lost: threading.Event) -> tuple[dict, list]:
        command = job["arguments"].get("command")
        if not command:
            raise JobFailed("a shell job needs arguments.command")
        with tempfile.TemporaryDirectory(prefix=f"job{job['id']}-") as scratch:
            self._execute(command.replace("{python}", shlex.quote(sys.executable)),
                          Path(scratch), os.environ.copy(), lost)
        return {"worker": worker}, []

    def _calibrate(self, job: dict, worker: str, lost: threading.Event) -> tuple[dict, list]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            inputs = conn.execute("SELECT hst.calibration_inputs(%s)", (job["dataset"],)).fetchone()[0]
        if inputs is None:
            raise JobFailed(f"dataset {job['dataset']} is not in the archive (any more)")
        dataset = self._fetch("HST", inputs["file"])
        references = {keyword: {**ref, "path": str(self._fetch_reference(ref))}
                      for keyword, ref in inputs["references"].items()}
        with tempfile.TemporaryDirectory(prefix=f"job{job['id']}-") as scratch:
            scratch_dir = Path(scratch)
            output = scratch_dir / "products"
            output.mkdir()
            (scratch_dir / "references.json").write_text(json.dumps(references))
            env = {**os.environ, "HSTVO_REFERENCES": str(scratch_dir / "references.json"),
                   "HSTVO_CAL_VER": inputs.get("cal_ver") or "", "HSTVO_DATASET": job["dataset"]}
            command = (inputs["command"].replace("{python}", shlex.quote(sys.executable))
                       .replace("{input}", shlex.quote(str(dataset)))
                       .replace("{output}", shlex.quote(str(output))))
            self._execute(command, scratch_dir, env, lost)
            products = sorted(output.glob("*.fits"))
            if not products:
                raise JobFailed(f"{inputs['pipeline']} wrote no product into {output}")
            staged = [self._send_back(product) for product in products]
        return ({"worker": worker, "products": [p.name for p in products],
                 "references": {k: r["file"] for k, r in references.items()}}, staged)

    def _build_mosaic(self, job: dict, worker: str, lost: threading.Event) -> tuple[dict, list]:
        """Rebuild a HAP single-visit mosaic: fetch its member exposures, write the visit's
        poller list with their local paths (as HAP's pipeline reads it), run the configured
        program (hst.mosaic_setup: runsinglehap {poller}), send back the hst_*_dr[cz].fits it
        writes, for the ingest."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            inputs = conn.execute("SELECT hst.mosaic_inputs(%s)", (job["dataset"],)).fetchone()[0]
        if inputs is None or not inputs.get("members"):
            raise JobFailed(f"mosaic {job['dataset']} has no member in the archive (any more)")
        members = {name: self._fetch("HST", name) for name in inputs["members"]}
        with tempfile.TemporaryDirectory(prefix=f"job{job['id']}-") as scratch:
            scratch_dir = Path(scratch)
            output = scratch_dir / "products"
            output.mkdir()
            poller = scratch_dir / f"{inputs['mosaic']}_input.out"
            lines = []
            for line in inputs["poller"].splitlines():
                fields = line.split(",")
                fields[-1] = str(members[fields[0]].parent)  # the path column: where it is here
                fields[0] = members[fields[0]].name
                lines.append(",".join(fields))
            poller.write_text("\n".join(lines) + "\n")
            command = (inputs["command"].replace("{python}", shlex.quote(sys.executable))
                       .replace("{poller}", shlex.quote(str(poller)))
                       .replace("{output}", shlex.quote(str(output))))
            self._execute(command, scratch_dir, {**os.environ, "HSTVO_MOSAIC": inputs["mosaic"]}, lost)
            products = sorted(p for p in output.glob("hst_*.fits") if p.is_file()) or \
                sorted(scratch_dir.glob("hst_*_dr[cz].fits"))
            if not products:
                raise JobFailed(f"{inputs['pipeline']} wrote no mosaic for {inputs['mosaic']}")
            staged = [self._send_back(product) for product in products]
        return {"worker": worker, "mosaic": inputs["mosaic"],
                "products": [p.name for p in products], "members": inputs["members"]}, staged

    def _execute(self, command: str, scratch: Path, env: dict, lost: threading.Event) -> None:
        """Run a command in `scratch`; JobFailed when it fails, AbandonJob when told to give up."""
        log.info("running: %s", command)
        program = shlex.split(command)
        try:
            process = subprocess.Popen(program, cwd=scratch, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except (FileNotFoundError, PermissionError) as exc:
            # the VM lacks the calibration software: say so in the job's own words
            what = "is not installed" if isinstance(exc, FileNotFoundError) else "cannot be run"
            raise JobFailed(f"the calibration program {program[0]} {what} on worker "
                            f"{socket.gethostname()} (PATH={env.get('PATH', '')})") from None
        started = time.monotonic()
        while process.poll() is None:
            if self.abandon.is_set() or lost.is_set():
                process.kill()
                process.wait()
                if lost.is_set():
                    raise LeaseLost("the lease ran out while the command ran")
                raise AbandonJob()
            if time.monotonic() - started > self.config.command_timeout:
                process.kill()
                raise JobFailed(f"{command} ran longer than {self.config.command_timeout} s")
            time.sleep(0.05)
        out, err = process.communicate()
        if process.returncode != 0:
            raise JobFailed(f"{command} exited with status {process.returncode}: "
                            f"{(err or out).strip()[-1000:]}")

    def _fetch_reference(self, ref: dict) -> Path:
        """A reference file in the local cache: from VOSpace's reference tree (/hst-refer, the
        tree the calibration mounts) when it is there, else from the archive's disks."""
        if ref.get("vospace"):
            return self._fetch("reference", ref["file"],
                               f"{self.archive}/vospace/files{ref['vospace']}")
        return self._fetch("reference", ref["file"])

    def _fetch(self, area: str, name: str, url: str | None = None) -> Path:
        """A file of the archive in the local cache (fetched once, from `url` or the archive's
        /files; a partial download never counts)."""
        target = self.cache / area / name
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with httpx.stream("GET", url or f"{self.archive}/files/{area}/{name}", timeout=60,
                          headers=headers, follow_redirects=True) as response:
            if response.status_code == 404:
                raise JobFailed(f"the archive has no {area} file {name}")
            response.raise_for_status()
            suffix = ".gz" if response.headers.get("content-type") == "application/gzip" else ""
            target = target.with_name(name + suffix) if suffix else target
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as part:
                for chunk in response.iter_bytes():
                    part.write(chunk)
            os.replace(part.name, target)
        return target

    def _send_back(self, product: Path):
        """PUT a product to the archive; its staging row for the ingest (path: the archive's)."""
        from .fits_ingest import read_for_staging

        staged = read_for_staging(product)
        if staged.read_error:
            raise JobFailed(f"product {product.name}: {staged.read_error}")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with product.open("rb") as data:
            response = httpx.put(f"{self.archive}/files/HST/{product.name}", content=data,
                                 headers=headers, timeout=120)
        if response.status_code != 201:
            raise JobFailed(f"the archive refused product {product.name}: "
                            f"{response.status_code} {response.text.strip()}")
        staged.path = response.json()["path"]
        return staged


class AbandonJob(Exception):
    """The worker was told to give its jobs back."""
