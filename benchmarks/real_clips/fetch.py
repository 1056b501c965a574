"""Bring the clips listed in benchmarks/real_clips/sources.csv into a cache folder, each checked by SHA-256.

    python3 benchmarks/real_clips/fetch.py [--out DIR] [--git-dir OWNER/NAME=GITDIR ...]

Each file is taken from its repository at the pinned commit: from GITHUB's raw file service by default, or,
with --git-dir, from a local clone or mirror of that repository (`git show COMMIT:PATH`), for machines
without access to GitHub. A file already in DIR with the right checksum is kept. A file whose checksum
differs is refused with one line naming it, and the exit status is 1 when any file could not be had.
The default folder is the one benchmarks/real_clips.py reads ($TMPDIR/fer-live-real-clips-extra).
"""
import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(tempfile.gettempdir(), "fer-live-real-clips-extra")


def read_sources(path=os.path.join(HERE, "sources.csv")):
    with open(path) as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def digest(data):
    return hashlib.sha256(data).hexdigest()


def fetch(source, git_dirs):
    git_dir = git_dirs.get(source["repo"])
    if git_dir:
        return subprocess.run(["git", "--git-dir", git_dir, "show", f"{source['commit']}:{source['path']}"],
                              check=True, capture_output=True).stdout
    url = f"https://raw.githubusercontent.com/{source['repo']}/{source['commit']}/{source['path']}"
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--git-dir", action="append", default=[], metavar="OWNER/NAME=GITDIR")
    args = parser.parse_args()
    git_dirs = dict(entry.split("=", 1) for entry in args.git_dir)
    os.makedirs(args.out, exist_ok=True)
    failed = 0
    for source in read_sources():
        target = os.path.join(args.out, source["clip"])
        if os.path.exists(target):
            with open(target, "rb") as handle:
                if digest(handle.read()) == source["sha256"]:
                    continue
        try:
            data = fetch(source, git_dirs)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"{source['clip']}: cannot fetch {source['repo']}@{source['commit'][:8]}:{source['path']} ({error})", file=sys.stderr)
            failed += 1
            continue
        if digest(data) != source["sha256"]:
            print(f"{source['clip']}: {source['repo']}:{source['path']} has SHA-256 {digest(data)}, expected {source['sha256']}",
                  file=sys.stderr)
            failed += 1
            continue
        with open(target + ".part", "wb") as handle:
            handle.write(data)
        os.replace(target + ".part", target)
        print(f"{source['clip']}: {len(data)} bytes")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
