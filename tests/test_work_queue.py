"""The work queue's functions (sql/73_work_queue.sql), on a real database, several connections
where it matters."""

import getpass

import psycopg
import pytest


@pytest.fixture
def queue(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def retry_at_once(conn) -> None:
    """Failed jobs may be claimed again at once (the tests of what follows a retry)."""
    conn.execute("UPDATE hstvo.setting SET value = '0' WHERE name = 'queue_retry_seconds'")


def enqueue(conn, dataset=None, vm_type=None, cpus=1, memory_mb=1024, priority=0, command="noop"):
    return conn.execute("SELECT queue.enqueue(%s, %s, '{}', %s, %s, %s, %s)",
                        (command, dataset, vm_type, cpus, memory_mb, priority)).fetchone()[0]


def claim(conn, worker="w1", vm_type="standard", cpus=4, memory_mb=8192, lease=60):
    row = conn.execute("SELECT id FROM queue.claim(%s, %s, %s, %s, %s)",
                       (worker, vm_type, cpus, memory_mb, lease)).fetchone()
    return row[0] if row else None


def status(conn, job_id):
    return conn.execute("SELECT status::text FROM queue.job WHERE id = %s", (job_id,)).fetchone()[0]


def history(conn, job_id):
    return [(f, t) for f, t in conn.execute(
        "SELECT from_status::text, to_status::text FROM queue.job_history WHERE job_id = %s "
        "ORDER BY at", (job_id,))]


def test_a_worker_claims_only_what_its_resources_satisfy(queue):
    big = enqueue(queue, vm_type="bigmem", cpus=16, memory_mb=64000, priority=5)
    gpu = enqueue(queue, vm_type="gpu")
    small = enqueue(queue, cpus=1, memory_mb=512)
    assert claim(queue, vm_type="standard", cpus=4, memory_mb=8192) == small
    assert claim(queue, vm_type="standard", cpus=4, memory_mb=8192) is None
    assert claim(queue, vm_type="bigmem", cpus=8, memory_mb=64000) is None  # too few CPUs
    assert claim(queue, vm_type="bigmem", cpus=16, memory_mb=64000) == big
    assert claim(queue, vm_type="gpu", cpus=1, memory_mb=1024) == gpu


def test_higher_priority_first_then_oldest(queue):
    first, second = enqueue(queue), enqueue(queue)
    urgent = enqueue(queue, priority=10)
    assert [claim(queue) for _ in range(3)] == [urgent, first, second]


def test_concurrent_claims_take_distinct_jobs_without_waiting(db_url, queue):
    """A claim holds its row lock until commit; a second worker skips it (SKIP LOCKED)."""
    jobs = {enqueue(queue) for _ in range(2)}
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        a = claim(first)  # transaction still open: its row stays locked
        second.execute("SET lock_timeout = '1s'")
        b = claim(second)
        assert {a, b} == jobs
        assert claim(second) is None
        first.commit()
        second.commit()


def test_complete_and_the_history_of_a_job(queue):
    job = enqueue(queue, dataset="j9irw1rqq")
    assert claim(queue, worker="vm1/1") == job
    queue.execute("SELECT queue.complete(%s, 'vm1/1', '{\"products\": 1}')", (job,))
    assert status(queue, job) == "completed"
    assert history(queue, job) == [(None, "idle"), ("idle", "running"), ("running", "completed")]


def test_only_the_worker_holding_the_lease_may_complete(queue):
    job = enqueue(queue)
    claim(queue, worker="vm1/1")
    with pytest.raises(psycopg.Error, match=f"job {job} is not running for worker vm2/1"):
        queue.execute("SELECT queue.complete(%s, 'vm2/1')", (job,))
    assert status(queue, job) == "running"


def test_an_expired_lease_returns_the_job_and_the_late_worker_cannot_complete(queue):
    retry_at_once(queue)
    job = enqueue(queue)
    claim(queue, worker="dead", lease=1)
    queue.execute("UPDATE queue.job SET lease_expires = now() - interval '1 second' WHERE id = %s", (job,))
    assert queue.execute("SELECT queue.heartbeat(%s, 'dead')", (job,)).fetchone()[0] is True
    queue.execute("UPDATE queue.job SET lease_expires = now() - interval '1 second' WHERE id = %s", (job,))
    assert queue.execute("SELECT queue.reap_expired()").fetchone()[0] == 1
    assert status(queue, job) == "idle"
    assert queue.execute("SELECT queue.heartbeat(%s, 'dead')", (job,)).fetchone()[0] is False
    assert claim(queue, worker="alive") == job
    with pytest.raises(psycopg.Error, match="is not running for worker dead"):
        queue.execute("SELECT queue.complete(%s, 'dead')", (job,))
    queue.execute("SELECT queue.complete(%s, 'alive')", (job,))
    assert [t for _, t in history(queue, job)] == ["idle", "running", "idle", "running", "completed"]


def test_a_job_failing_max_starts_times_is_held_with_its_last_error(queue):
    retry_at_once(queue)
    job = enqueue(queue)
    for attempt in range(1, 4):
        assert claim(queue) == job
        outcome = queue.execute("SELECT queue.fail(%s, 'w1', %s)", (job, f"crash {attempt}")).fetchone()[0]
        assert outcome == ("held" if attempt == 3 else "idle")
    assert claim(queue) is None
    held = queue.execute("SELECT status::text, starts, last_error FROM queue.job WHERE id = %s", (job,)).fetchone()
    assert held == ("held", 3, "crash 3")
    queue.execute("SELECT queue.set_status(%s, 'release')", (job,))
    assert status(queue, job) == "idle" and claim(queue) == job


def test_retries_back_off_and_the_history_says_until_when(queue):
    job = enqueue(queue)
    assert claim(queue) == job
    queue.execute("SELECT queue.fail(%s, 'w1', 'calacs.e: command not found')", (job,))
    assert status(queue, job) == "idle" and claim(queue) is None  # not yet: it backs off
    waits = queue.execute("SELECT not_before - now() FROM queue.job WHERE id = %s",
                          (job,)).fetchone()[0].total_seconds()
    assert 29 < waits <= 30
    note = queue.execute("SELECT note FROM queue.job_history WHERE job_id = %s AND "
                         "to_status = 'idle' AND from_status = 'running'", (job,)).fetchone()[0]
    assert note.startswith("calacs.e: command not found (tried again from ")
    queue.execute("UPDATE queue.job SET not_before = now() WHERE id = %s", (job,))
    assert claim(queue) == job
    queue.execute("SELECT queue.fail(%s, 'w1', 'calacs.e: command not found')", (job,))
    waits = queue.execute("SELECT not_before - now() FROM queue.job WHERE id = %s",
                          (job,)).fetchone()[0].total_seconds()
    assert 119 < waits <= 120  # four times longer after the second start
    delays = queue.execute("SELECT extract(epoch FROM queue.retry_delay(s)) FROM "
                           "generate_series(1, 6) AS s").fetchall()
    assert [d[0] for d in delays] == [30, 120, 480, 1920, 3600, 3600]
    # a person's release or retry is at once
    queue.execute("UPDATE queue.job SET status = 'held' WHERE id = %s", (job,))
    queue.execute("SELECT queue.set_status(%s, 'release')", (job,))
    assert claim(queue) == job


def test_a_released_job_does_not_count_a_start(queue):
    job = enqueue(queue)
    claim(queue)
    queue.execute("SELECT queue.release_job(%s, 'w1')", (job,))
    assert queue.execute("SELECT status::text, starts FROM queue.job WHERE id = %s", (job,)).fetchone() == ("idle", 0)


@pytest.mark.parametrize("start, action, end", [
    ("idle", "hold", "held"), ("held", "release", "idle"), ("idle", "cancel", "cancelled"),
    ("cancelled", "retry", "idle"), ("completed", "retry", "idle"), ("running", "hold", "held"),
])
def test_people_move_jobs_as_the_life_allows(queue, start, action, end):
    job = enqueue(queue)
    queue.execute("UPDATE queue.job SET status = %s WHERE id = %s", (start, job))
    queue.execute("SELECT queue.set_status(%s, %s)", (job, action))
    assert status(queue, job) == end
    assert history(queue, job)[-1] == (start, end)


@pytest.mark.parametrize("start, action", [
    ("completed", "hold"), ("idle", "release"), ("completed", "cancel"), ("idle", "retry"),
])
def test_moves_the_life_forbids_are_refused_with_the_reason(queue, start, action):
    job = enqueue(queue)
    queue.execute("UPDATE queue.job SET status = %s WHERE id = %s", (start, job))
    with pytest.raises(psycopg.Error, match=f"job {job} is {start}: it cannot be"):
        queue.execute("SELECT queue.set_status(%s, %s)", (job, action))


def test_an_idle_job_per_dataset(queue):
    first = enqueue(queue, dataset="x")
    assert enqueue(queue, dataset="x") == first
    claim(queue)
    second = enqueue(queue, dataset="x")  # the running one calibrates with what it had
    assert second != first
    queue.execute("SELECT queue.complete(%s, 'w1')", (first,))
    with pytest.raises(psycopg.Error, match="dataset x already has an idle job"):
        queue.execute("SELECT queue.set_status(%s, 'retry')", (first,))


def test_enqueueing_notifies_listening_workers(db_url, queue):
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN queue_job")
        enqueue(queue)
        notices = list(listener.notifies(timeout=2, stop_after=1))
        assert [n.channel for n in notices] == ["queue_job"]


def test_the_jobs_command(db_url):
    from .conftest import run_hstvo

    with psycopg.connect(db_url, autocommit=True) as conn:
        job = enqueue(conn, dataset="j9irw1rqq", vm_type="bigmem", cpus=8, memory_mb=64000)
    listed = run_hstvo("jobs", db_url=db_url, check=True).stdout.splitlines()
    assert listed[0].split() == ["ID", "OWNER", "STARTED", "STATUS", "COMMAND", "DATASET", "VM",
                                 "CPU", "MEM_MB", "STARTS"]
    assert listed[1].split()[3:] == ["idle", "noop", "j9irw1rqq", "bigmem", "8", "64000", "0"]
    assert run_hstvo("jobs", "hold", str(job), db_url=db_url, check=True).stdout == f"job {job}: held\n"
    again = run_hstvo("jobs", "hold", str(job), db_url=db_url)
    assert again.returncode == 1 and f"job {job} is held: it cannot be held" in again.stderr
    assert "held       1" in run_hstvo("jobs", "totals", db_url=db_url, check=True).stdout
    assert run_hstvo("jobs", "--status", "held", db_url=db_url, check=True).stdout.count("\n") == 2
    run_hstvo("jobs", "release", str(job), db_url=db_url, check=True)
    shown = run_hstvo("jobs", "show", str(job), db_url=db_url, check=True).stdout
    assert "status         idle" in shown
    assert "new       -> idle" in shown and "idle      -> held" in shown and "held      -> idle" in shown
    who = getpass.getuser()  # the history names who held and who released it
    assert f"held by {who}" in shown and f"released by {who}" in shown
