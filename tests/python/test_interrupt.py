"""Ctrl-C stops training (or a study) promptly with KeyboardInterrupt, and nothing is left written
half-way: the run directory holds the epochs that finished, each file whole."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import epchip
from conftest import task


@pytest.fixture(autouse=True)
def ctrl_c_raises_keyboard_interrupt():
    """Python leaves SIGINT ignored when it starts with it ignored (a shell's background job, some CI
    runners): install the default handler so these tests see what a user at a terminal sees."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def check_run_directory(path, epochs_at_least=0):
    """Every file whole and consistent, no temporary file left; returns the epochs recorded."""
    assert not [p.name for p in path.iterdir() if ".tmp-" in p.name]
    rows = list(csv.DictReader(open(path / "metrics.csv", newline="")))
    summary = json.loads((path / "summary.json").read_text())
    assert summary["epochs"] == len(rows) >= epochs_at_least
    checkpoint = json.loads((path / "checkpoint.json").read_text())
    assert len(checkpoint["history"]) == len(rows)
    assert epchip.Run.load(path).summary["epochs"] == len(rows)
    return len(rows)


def test_sigint_during_training_raises_keyboard_interrupt_and_keeps_finished_epochs(tmp_path):
    # An epoch long enough (about a second at batch 1 on loihi2's vectorised engine, 2026-11-30) that
    # the signal, 0.1 s after the first epoch's callback, lands inside the second one.
    x, y = task(40000, 64, 4)
    finished = []

    def interrupt_in_epoch_two(metrics):
        finished.append(metrics["epoch"])
        if metrics["epoch"] == 1:
            # Lands in the middle of epoch 2.
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        epchip.train(profile="loihi2", layers=[64, 128, 4], x_train=x, y_train=y, x_test=x[:500], y_test=y[:500],
                     epochs=50, batch=1, quiet=True, out=tmp_path, callback=interrupt_in_epoch_two)
    assert finished == [1], "stopped inside the second epoch, before its callback"
    assert time.perf_counter() - started < 30
    assert check_run_directory(tmp_path) == 1


def test_a_callback_may_raise_keyboard_interrupt(tmp_path):
    x, y = task(100, 12, 2)

    def stop(metrics):
        if metrics["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        epchip.train(profile="ideal", layers=[12, 6, 2], x_train=x, y_train=y, x_test=x, y_test=y, epochs=5,
                     quiet=True, out=tmp_path, callback=stop)
    assert check_run_directory(tmp_path) == 2


def test_ctrl_c_in_a_python_process_training_with_a_progress_bar(tmp_path):
    script = textwrap.dedent(
        f"""
        import signal
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal, also in a background job
        import epchip
        epchip.train(profile="loihi2", dataset="mnist10k:pool=2", layers=[196, 100, 10], epochs=100,
                     train_limit=2000, out={str(tmp_path)!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "checkpoint.json").exists():
        assert child.poll() is None and time.time() < deadline, "no epoch finished"
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    sent = time.perf_counter()
    _, err = child.communicate(timeout=60)
    assert time.perf_counter() - sent < 5, "Ctrl-C is honoured within a mini-batch, not at the end of the run"
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    assert "epoch   1: train" in err, "the per-epoch lines of `epchip train`"
    check_run_directory(tmp_path, epochs_at_least=1)


def test_sigint_during_a_study_stops_it_and_a_second_call_resumes(tmp_path):
    runs = tmp_path / "runs"
    studying = threading.Event()

    def interrupt_after_the_first_run():
        while studying.is_set():
            if runs.is_dir() and any((d / "record.json").exists() for d in runs.iterdir()):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    args = dict(out=tmp_path, profile="loihi2", dataset="synthetic", layers=[16, 64, 4], tau=["constant"],
                seeds=6, epochs=4, jobs=1, quiet=True, batch=1)
    studying.set()
    watcher = threading.Thread(target=interrupt_after_the_first_run)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            epchip.study(**args)
    finally:
        studying.clear()
        watcher.join()
    # The run under way finishes in the background: every run directory is whole or has no record.
    deadline = time.time() + 60
    while time.time() < deadline and any(
        not (d / "record.json").exists() and (d / "metrics.csv").exists() for d in runs.iterdir()
    ):
        time.sleep(0.1)
    finished = sum((d / "record.json").exists() for d in runs.iterdir())
    assert 1 <= finished < 6
    study = epchip.study(**args)
    assert study.missing == [] and len(study.results) == 6
