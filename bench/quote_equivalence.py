"""Compare the schedule engine and APRs of an earlier commit with the work tree's, case by case.

The committed fixture (tests/unit/fixtures/schedule_reference.jsonl) pins 2,202 cases; this
runs as many more random ones as you like. The earlier engine is taken from git (``--base``,
by default the commit that recorded the fixture, whose engine is the one before the quote was
optimised), unpacked in a temporary directory and run there in a subprocess; the work tree's
engine runs in this process. Prints the number of cases, schedules refused, quotes compared,
the time each side took, and every case whose answers differ (there should be none).

Usage::

    .venv/bin/python bench/quote_equivalence.py [--cases 3000] [--seed 1] [--base d233964]

The earlier engine costs about 35 ms of CPU per case, so 3,000 cases take about two minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.unit.schedule_reference import outcome, random_cases  # noqa: E402

# What the earlier engine needs to run the reference module (no database, no settings).
_PATHS = [
    "domain",
    "tests/__init__.py",
    "tests/unit/__init__.py",
    "tests/unit/schedule_reference.py",
]
_CHECK = "import domain, sys; sys.stderr.write(domain.__file__ + '\\n')"


def _earlier_outcomes(base: str, count: int, seed: int) -> tuple[list[dict[str, object]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        git = shutil.which("git") or "git"
        # Arguments are ours (the commit is passed to git as one argument, never to a shell).
        archive = subprocess.run(  # noqa: S603
            [git, "-C", str(REPO), "archive", base, *_PATHS],
            check=True,
            capture_output=True,
        ).stdout
        archive_path = Path(tmp) / "base.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(tmp, filter="data")
        # The unpacked tree comes first on sys.path, ahead of the editable install's finder;
        # make sure of it rather than compare the work tree with itself.
        found = subprocess.run(  # noqa: S603
            [sys.executable, "-c", _CHECK], cwd=tmp, check=True, capture_output=True, text=True
        ).stderr.strip()
        if not found.startswith(tmp):
            raise SystemExit(f"the earlier engine would not be the one imported: {found}")
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tests.unit.schedule_reference", "--random", str(count),
             str(seed)],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    return [json.loads(line) for line in result.stdout.splitlines() if line], elapsed


def main() -> None:
    """Run both engines over the same random cases and report any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", default="d233964", help="commit of the earlier engine")
    args = parser.parse_args()

    earlier, earlier_seconds = _earlier_outcomes(args.base, args.cases, args.seed)
    cases = list(random_cases(args.cases, seed=args.seed))
    started = time.monotonic()
    current = [outcome(case) for case in cases]
    current_seconds = time.monotonic() - started

    differences = 0
    for index, (record, mine) in enumerate(zip(earlier, current, strict=True)):
        if record["case"] != cases[index]:
            raise SystemExit(f"case {index} was drawn differently by the earlier tree")
        if record["outcome"] != mine:
            differences += 1
            print(json.dumps({"index": index, "case": cases[index], "earlier": record["outcome"],
                              "current": mine}))  # fmt: skip
    refused = sum("error" in o for o in current)
    quotes = sum(len(o.get("quotes", [])) for o in current)
    print(
        f"{len(cases)} cases ({refused} schedules refused), {quotes} quotes with 2 APRs each; "
        f"earlier engine {earlier_seconds:.1f} s, current {current_seconds:.1f} s; "
        f"{differences} differ"
    )
    if differences:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
