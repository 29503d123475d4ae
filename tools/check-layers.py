#!/usr/bin/env python3
"""The layering check: user/ is one folder per pipeline stage, and a stage
may use only its own folder, earlier stages and include/ (user/README.md).

The order is written once, in the folder names: user/<N>-<stage>/, lower N
first. Two folders with the same N (7-cli, 7-daemon) are siblings at the
top and may not use each other.

Two views of "uses", both checked:
  includes  every #include "x.h" line of user/, preload/ and bpf/ is
            resolved to the file it names; one that reaches a later stage
            (or a sibling) fails with its file and line. preload/ and bpf/
            may include only their own folder and include/: the shim and
            the probes never link the daemon's code.
  cycles    no two files depend on each other, directly or around a ring.
            Between headers, by their includes; between modules (x.c, the
            object built from it), with --objects, by the linker's graph:
            which object needs a symbol another defines, read with nm. That
            one also sees two .c files that call each other through a
            header they share. A call into a later stage is reported like
            an include.

Usage: check-layers.py [--root DIR] [--objects OUTPUT_DIR]
Exit 0 when clean, 1 with one line per finding, 2 on a usage error.
"""
import argparse
import os
import re
import subprocess
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
STAGE_RE = re.compile(r"^(\d+)-[a-z0-9_]+$")


def stage_of(path):
    """(rank, folder) of a path under user/<N>-<name>/, else None."""
    parts = path.split(os.sep)
    if len(parts) >= 3 and parts[0] == "user":
        m = STAGE_RE.match(parts[1])
        if m:
            return int(m.group(1)), parts[1]
    return None


def source_files(root, top):
    out = []
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


class Tree:
    def __init__(self, root):
        self.root = root
        self.errors = []
        self.user = source_files(root, "user")
        self.by_name = {}
        for p in self.user:
            if os.path.dirname(p) == "user":
                self.errors.append(f"{p}: user/ holds stage folders only; move it into its stage")
                continue
            if stage_of(p) is None:
                self.errors.append(f"{p}: folder is not named <N>-<stage>")
                continue
            name = os.path.basename(p)
            if name in self.by_name:
                self.errors.append(f"{p}: header name also used by {self.by_name[name]} "
                                   "(includes are by bare name: names must be unique)")
            self.by_name[name] = p
        self.shared = set(os.listdir(os.path.join(root, "include"))) \
            if os.path.isdir(os.path.join(root, "include")) else set()

    def resolve(self, src, inc):
        """The repository path an include of src names, 'include/x' for the
        shared headers, 'generated' for build outputs, or None."""
        here = os.path.join(os.path.dirname(src), inc)
        if os.path.exists(os.path.join(self.root, here)):
            return os.path.normpath(here)
        if inc in self.shared:
            return "include/" + inc
        if inc.endswith(".skel.h") or inc == "vmlinux.h":
            return "generated"
        if os.path.basename(inc) in self.by_name:
            return self.by_name[os.path.basename(inc)]
        return None

    def includes(self, src):
        with open(os.path.join(self.root, src), errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if m:
                    yield lineno, m.group(1)


def check_includes(tree):
    graph = {}
    for top in ("user", "preload", "bpf"):
        for src in (tree.user if top == "user" else source_files(tree.root, top)):
            own = stage_of(src)
            for lineno, inc in tree.includes(src):
                dst = tree.resolve(src, inc)
                where = f"{src}:{lineno}: #include \"{inc}\""
                if dst is None:
                    tree.errors.append(f"{where}: not found in its folder, a stage or include/")
                    continue
                if dst in ("generated",) or dst.startswith("include/"):
                    if dst == "generated" and top == "user" and own[0] < 1:
                        tree.errors.append(f"{where}: BPF skeletons belong to 1-capture and later")
                    continue
                if top != "user":
                    if os.path.dirname(dst) != os.path.dirname(src):
                        tree.errors.append(f"{where}: {top}/ may include only {top}/ and include/")
                    continue
                theirs = stage_of(dst)
                if theirs[1] != own[1] and theirs[0] >= own[0]:
                    kind = "a sibling stage" if theirs[0] == own[0] else "a later stage"
                    tree.errors.append(f"{where}: {theirs[1]} is {kind} than {own[1]}")
                graph.setdefault(src, set()).add(dst)
    return graph


def module(path):
    return os.path.splitext(path)[0]


def nm_symbols(obj):
    """(defined, undefined) global symbols of an object file."""
    out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "U":
            undefined.add(fields[1])
        elif len(fields) == 3 and fields[1] not in "Uwv":
            defined.add(fields[2])
    return defined, undefined


def libc_symbols():
    """What the C library defines: the shim's interposers of those (close,
    send, ...) stand in for libc and are nobody's dependency."""
    try:
        libc = subprocess.run(["gcc", "-print-file-name=libc.so.6"], capture_output=True,
                              text=True, check=True).stdout.strip()
        out = subprocess.run(["nm", "-D", "--defined-only", libc], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


def link_graph(tree, outdir):
    """Module -> modules it needs symbols of, from OUTPUT/user/**.o and
    OUTPUT/preload/*.o (the objects the Makefile builds)."""
    objs = {}
    for top in ("user", "preload"):
        base = os.path.join(outdir, top)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.endswith(".o"):
                    rel = os.path.relpath(os.path.join(dirpath, f), outdir)
                    objs[module(rel)] = os.path.join(dirpath, f)
    if not objs:
        tree.errors.append(f"{outdir}: no objects under user/ or preload/ (build first)")
        return {}
    syms = {m: nm_symbols(o) for m, o in objs.items()}
    owner, libc = {}, libc_symbols()
    for m, (defined, _) in syms.items():
        for s in defined - libc:
            owner.setdefault(s, m)
    graph = {}
    for m, (_, undefined) in syms.items():
        for s in sorted(undefined):
            d = owner.get(s)
            if not d or d == m:
                continue
            graph.setdefault(m, set()).add(d)
            mine, theirs = stage_of(m + ".c"), stage_of(d + ".c")
            if mine and theirs and theirs[1] != mine[1] and theirs[0] >= mine[0]:
                tree.errors.append(f"{m}.c: calls {s} of {d}.c, in {theirs[1]}, "
                                   f"not earlier than {mine[1]}")
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".", help="the repository (default: .)")
    ap.add_argument("--objects", metavar="OUTPUT_DIR",
                    help="also check the linker's graph of the objects built there")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.root, "user")):
        print(f"check-layers: {args.root}: no user/ folder", file=sys.stderr)
        return 2
    tree = Tree(args.root)
    graph = check_includes(tree)
    for comp in cycles(graph):
        tree.errors.append("include cycle: " + " <-> ".join(comp))
    if args.objects:
        for comp in cycles(link_graph(tree, args.objects)):
            tree.errors.append("call cycle: " + " <-> ".join(comp))
    for e in tree.errors:
        print("check-layers: " + e)
    if tree.errors:
        print(f"check-layers: {len(tree.errors)} problem(s); the stage rules are in user/README.md")
        return 1
    print(f"check-layers: {len(tree.user)} files in {len(set(stage_of(p)[1] for p in tree.user if stage_of(p)))} "
          "stages, includes one way, no cycles" + (" (includes and calls)" if args.objects else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
