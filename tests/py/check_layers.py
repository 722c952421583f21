#!/usr/bin/python3
"""check_layers.py — the layering rules of the C sources (tests/sh/test_layers.sh):

  1. only lua/ includes lua.h, lauxlib.h or lualib.h (#include lines);
  2. runtime/ and memory/ never include from lua/, and memory/ nothing of
     runtime/ (#include lines);
  3. no circle between source files: file A depends on file B when A's object
     uses a symbol that B's object defines (nm: calls and data, not types or
     constants from a header). A circle (A -> B -> ... -> A) means two files
     that each need the other; what both use belongs in a lower file (as the
     host's helpers are in host.c, under the bindings, and the state that
     opens the bindings in state.c, above them).

  check_layers.py ROOT BUILD   exit 1 naming each broken rule, 0 when all hold
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build"))
DIRS = ("runtime", "memory", "lua")
# where `#include "x.h"` is looked up: the file's own folder, then the Makefile's -I
INCLUDE = ("runtime", "memory", "lua")
INC = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
LUA_HEADERS = {"lua.h", "lauxlib.h", "lualib.h"}


def sources():
    for top in DIRS:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def resolve(path, name):
    for base in (os.path.dirname(path),) + INCLUDE:
        p = os.path.normpath(os.path.join(base, name))
        if os.path.exists(os.path.join(ROOT, p)):
            return p
    return None  # a generated or system header


def symbols(obj):
    """(defined, used) global symbols of an object file."""
    out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, used


def main():
    errors = []
    files = sorted(sources())
    deps = {}
    for path in files:
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        top = path.split(os.sep)[0]
        for kind, name in INC.findall(text):
            if os.path.basename(name) in LUA_HEADERS and top != "lua":
                errors.append(f"{path}: includes {name}; only lua/ may include Lua's headers")
            if kind == "<":
                continue
            target = resolve(path, name)
            if not target:
                continue
            ttop = target.split(os.sep)[0]
            if top in ("runtime", "memory") and ttop == "lua":
                errors.append(f"{path}: includes {target}; {top}/ never calls up into lua/")
            if top == "memory" and ttop == "runtime":
                errors.append(f"{path}: includes {target}; memory/ stands alone")
    owner, used = {}, {}
    for path in files:
        obj = os.path.join(BUILD, os.path.splitext(path)[0] + ".o")
        if not path.endswith(".c"):
            continue
        if not os.path.exists(obj):
            continue  # not in the libraries or the binary: a build tool, the MPI plugin
        d, u = symbols(obj)
        used[path] = u
        for sym in d:
            owner[sym] = path
    for path, u in used.items():
        for sym in u:
            if sym in owner and owner[sym] != path:
                deps.setdefault(path, set()).add(owner[sym])
    if len(used) < 20:
        errors.append(f"only {len(used)} objects under {BUILD}: build first (make)")
    errors += [f"circle: {' -> '.join(c)}" for c in circles(deps)]
    for e in errors:
        print("check_layers: " + e)
    if not errors:
        print(f"check_layers: {len(used)} C files, {sum(len(v) for v in deps.values())} dependencies, no circle")
    return 1 if errors else 0


def circles(deps):
    """Each strongly connected component of more than one unit, as one path
    around it (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(cycle_in(set(comp), deps))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def cycle_in(comp, deps):
    """A path from the component's first unit back to itself, inside it."""
    start = min(comp)
    prev, todo = {start: None}, [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(deps.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]]:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in comp and w not in prev:
                prev[w] = v
                todo.append(w)
    return sorted(comp)


if __name__ == "__main__":
    sys.exit(main())
