#!/usr/bin/env python3
"""Fails if the modules of a Rust crate import each other in a cycle.

    tests/layers/rust_modules.py SRC_DIR...     (e.g. native/src core/src wasm/src)

Every file is a node (`http2/server.rs` is `http2::server`, a `mod.rs` is its
directory's module, `lib.rs` the crate root). An edge A -> B is any path A
names into B: `crate::b::X`, `super::X`, `use crate::{b::X, ..}`. A name that
the crate root or a `mod.rs` only re-exports (`pub use b::X;`) counts as an
edge to the module that defines it, so re-exports do not hide a cycle or make
one up. Declaring a submodule (`mod b;`) is not an edge. Cycles are looked
for among the children of each module (see `levels`). Comments are
ignored, and so is `src/bin`. Prints the modules of each cycle and exits 1 if there is one.
"""

import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("lib", "main", "mod"):
        rel = rel[:-1]
    return tuple(rel)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand_use(body):
    """`a::{b, c::{d, E}}` -> ['a::b', 'a::c::d', 'a::c::E']."""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", body)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out.extend(expand_use(prefix + p.strip()))
    return out


def crate_graph(root):
    files = {}
    for d, _, names in os.walk(root):
        if os.sep + "bin" in d[len(root):]:
            continue
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                files[module_of(root, p)] = strip_comments(open(p).read())
    modules = set(files)
    # Re-exports: (module, name) -> module the name comes from.
    reexport = {}
    for mod, text in files.items():
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
            for path in expand_use(m.group(1)):
                segs = [s for s in path.split("::") if s]
                if not segs:
                    continue
                if segs[0] not in ("crate", "super", "self"):
                    segs = ["self"] + segs  # 2018 paths: relative to this module
                target = resolve(mod, segs[:-1] + ["_"], modules, {})
                if target is not None:
                    reexport[(mod, segs[-1].split(" as ")[-1].strip())] = target

    edges = {m: set() for m in modules}
    for mod, text in files.items():
        # Re-exports are the facade, not a use: they were resolved above.
        text = re.sub(r"\bpub(?:\([^)]*\))?\s+use\s+[^;]+;", "", text)
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths.extend(expand_use(m.group(1)))
        paths.extend(re.findall(r"\b((?:crate|super)(?:::\w+)+)", text))
        for path in paths:
            segs = [s for s in path.split("::") if s]
            if segs and mod + (segs[0],) in modules:
                segs = ["self"] + segs
            if not segs or segs[0] not in ("crate", "super", "self"):
                continue
            target = resolve(mod, segs, modules, reexport)
            if target is not None and target != mod:
                edges[mod].add(target)
    return edges


def resolve(mod, segs, modules, reexport):
    """The module a `crate::`/`super::`/`self::` path lands in."""
    if segs[0] == "crate":
        base, rest = (), segs[1:]
    elif segs[0] == "super":
        base, rest = mod, segs
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif segs[0] == "self":
        base, rest = mod, segs[1:]
    else:
        return None
    cur = base
    for s in rest:
        if cur + (s,) in modules:
            cur = cur + (s,)
            continue
        # `s` is an item of `cur`: defined there, or re-exported from below.
        while (cur, s) in reexport and reexport[(cur, s)] != cur:
            cur = reexport[(cur, s)]
        break
    return cur


def cycles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(scc)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "crate"


def levels(edges):
    """The graph among the children of each module: a file of a directory
    module counts as that child (`http2::server` is `http2` next to
    `server`), and a file naming its own parent (`super::Session`, the
    pattern of one type's methods spread over several files) is not an edge."""
    parents = {m[:-1] for m in edges if m}
    for parent in sorted(parents, key=len):
        depth = len(parent) + 1
        under = lambda m: len(m) >= depth and m[: len(parent)] == parent
        graph = {}
        for a, targets in edges.items():
            if not under(a):
                continue
            graph.setdefault(a[:depth], set())
            for b in targets:
                if under(b) and b[:depth] != a[:depth]:
                    graph[a[:depth]].add(b[:depth])
                    graph.setdefault(b[:depth], set())
        yield parent, graph


def main():
    bad = 0
    for root in sys.argv[1:]:
        edges = crate_graph(root)
        found = []
        for _, graph in levels(edges):
            for scc in cycles(graph):
                members = set(scc)
                found.append([f"{name(a)} -> {name(b)}" for a in sorted(scc) for b in sorted(graph[a]) if b in members])
        for detail in found:
            print(f"{root}: modules import each other in a cycle: {', '.join(detail)}")
        bad += len(found)
        if not found:
            n = sum(len(e) for e in edges.values())
            print(f"{root}: {len(edges)} modules, {n} imports between them, every one pointing down")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
