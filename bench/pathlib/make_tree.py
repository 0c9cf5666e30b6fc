#!/usr/bin/env python3
"""Builds the synthetic directory tree that bench/pathlib/compare.py globs and walks.

    python3 bench/pathlib/make_tree.py [--dir /tmp/batteries-bench-tree] [--small]

The tree is deterministic (a fixed seed): by default 200,000 files in 20,000 directories,
nested one to eight levels below the root, with a mix of extensions (15% .py, and traps such
as .pyc, .pyi and .py.bak that "*.py" must not match), hidden files and directories, a few
directories whose names end in ".py", and a few symlinks: to files, to directories (some to
an ancestor, a loop for anything that follows them) and one dangling. The files are empty.

It lands in DIR/tree-FILES-DIRS, beside a stamp DIR/tree-FILES-DIRS.json that records the
parameters and what the tree holds (the entries whose name ends in ".py", and their total
path length from DIR/tree-FILES-DIRS/...). A tree whose stamp matches is reused as it is; any
other is removed and built again (into a temporary name, renamed when complete).
"""
import argparse
import json
import os
import random
import shutil
import sys

VERSION = 1
SEED = 20231
FULL = (200_000, 20_000)
SMALL = (2_000, 200)
# Share of directories at each depth below the root (depth 1 first).
DEPTHS = (0.5, 4, 15, 25, 25, 17, 9, 4.5)
EXTENSIONS = (
    (".py", 15), (".pyc", 4), (".pyi", 1), (".py.bak", 1), (".pyx", 1), (".txt", 8),
    (".md", 5), (".json", 7), (".yaml", 3), (".c", 6), (".h", 6), (".cpp", 6), (".hpp", 3),
    (".js", 8), (".html", 4), (".css", 3), (".png", 6), (".so", 2), (".o", 5), ("", 6),
)
DIR_WORDS = ("src", "lib", "tests", "docs", "utils", "core", "api", "models", "views", "build",
             "scripts", "config", "data", "vendor", "internal", "plugins", "tools", "assets",
             "static", "templates", "pkg", "common", "io", "net", "cache", "migrations")
FILE_WORDS = ("main", "util", "helpers", "config", "models", "views", "test_api", "client",
              "server", "parser", "index", "README", "setup", "schema", "handler", "types",
              "constants", "errors", "logging", "settings", "app", "base", "conftest")


def params(files, dirs):
    return {"version": VERSION, "seed": SEED, "files": files, "dirs": dirs}


def paths_of(base, files, dirs):
    name = f"tree-{files}-{dirs}"
    return os.path.join(base, name), os.path.join(base, name + ".json")


def plan(files, dirs):
    """The tree as lists of relative paths: (dirs, files, symlinks as (link, target))."""
    rng = random.Random(SEED)
    total = sum(DEPTHS)
    per_depth = [max(1, round(dirs * share / total)) for share in DEPTHS]
    per_depth[-1] += dirs - sum(per_depth)  # the rounding's remainder, deepest
    levels = [[""]]  # the root
    dir_list = []
    serial = 0
    for count in per_depth:
        level = []
        for _ in range(count):
            parent = rng.choice(levels[-1])
            name = f"{rng.choice(DIR_WORDS)}-{serial}"  # files have "_"
            serial += 1
            roll = rng.random()
            if roll < 0.01:
                name = "." + name  # hidden
            elif roll < 0.0013 + 0.01:
                name += ".py"  # a directory that "*.py" matches
            path = f"{parent}/{name}" if parent else name
            level.append(path)
            dir_list.append(path)
        levels.append(level)
    all_dirs = [""] + dir_list
    # Most directories hold a few files, some many, some none.
    weights = [rng.choice((0, 1, 1, 1, 1, 2, 2, 3, 5, 12)) for _ in all_dirs]
    homes = rng.choices(all_dirs, weights=weights, k=files)
    exts = [e for e, _ in EXTENSIONS]
    ext_weights = [w for _, w in EXTENSIONS]
    file_list = []
    for serial, home in enumerate(homes):
        ext = rng.choices(exts, weights=ext_weights)[0]
        name = f"{rng.choice(FILE_WORDS)}_{serial}{ext}"
        if rng.random() < 0.02:
            name = "." + name
        file_list.append(f"{home}/{name}" if home else name)
    links = []
    py_files = [f for f in file_list if f.endswith(".py")]
    for i in range(max(3, files // 10_000)):
        target = rng.choice(py_files if i % 2 == 0 else file_list)
        ext = ".py" if target.endswith(".py") else ".lnk"
        links.append((f"{rng.choice(all_dirs)}/file_link_{i}{ext}".lstrip("/"), target))
    for i in range(max(2, dirs // 2_000)):
        home = rng.choice(dir_list)
        # Every other one points at an ancestor: a loop for a walk that follows links.
        target = home.split("/")[0] if i % 2 == 0 else rng.choice(dir_list)
        links.append((f"{home}/dir_link_{i}", target))
    links.append((f"{rng.choice(dir_list)}/dangling_link.py", "no/such/file.py"))
    return dir_list, file_list, links


def build(root, dir_list, file_list, links):
    os.mkdir(root)
    for d in dir_list:  # parents come first: the plan goes level by level
        os.mkdir(os.path.join(root, d))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for f in file_list:
        os.close(os.open(os.path.join(root, f), flags, 0o644))
    for link, target in links:
        where = os.path.dirname(link)
        os.symlink(os.path.relpath(target, where or "."), os.path.join(root, link))


def ensure_tree(base, files, dirs, log=sys.stderr):
    """The tree's path and its stamp (a dict), built unless a matching stamp is there."""
    root, stamp_path = paths_of(os.path.abspath(base), files, dirs)
    try:
        with open(stamp_path) as f:
            stamp = json.load(f)
        if stamp.get("params") == params(files, dirs) and os.path.isdir(root):
            return root, stamp
    except (OSError, ValueError):
        pass
    print(f"building {root} ({files:,} files in {dirs:,} directories)...", file=log,
          flush=True)
    os.makedirs(base, exist_ok=True)
    dir_list, file_list, links = plan(files, dirs)
    tmp = root + ".tmp"
    for stale in (tmp, root):
        if os.path.lexists(stale):
            shutil.rmtree(stale)
    if os.path.lexists(stamp_path):
        os.unlink(stamp_path)
    build(tmp, dir_list, file_list, links)
    os.rename(tmp, root)
    matches = [p for p in dir_list + file_list + [link for link, _ in links]
               if os.path.basename(p).endswith(".py")]
    stamp = {
        "params": params(files, dirs),
        "dirs": len(dir_list),
        "files": len(file_list),
        "symlinks": len(links),
        "py": len(matches),
        "py_bytes": sum(len(root) + 1 + len(p) for p in matches),
    }
    with open(stamp_path + ".tmp", "w") as f:
        json.dump(stamp, f, indent=1)
    os.rename(stamp_path + ".tmp", stamp_path)
    return root, stamp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/batteries-bench-tree",
                        help="where the tree and its stamp go (default %(default)s)")
    parser.add_argument("--small", action="store_true",
                        help=f"{SMALL[0]:,} files in {SMALL[1]:,} directories (the smoke test's)")
    parser.add_argument("--files", type=int, help=f"files (default {FULL[0]:,})")
    parser.add_argument("--dirs", type=int, help=f"directories (default {FULL[1]:,})")
    args = parser.parse_args()
    files, dirs = SMALL if args.small else FULL
    root, stamp = ensure_tree(args.dir, args.files or files, args.dirs or dirs)
    print(root)
    print(json.dumps(stamp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
