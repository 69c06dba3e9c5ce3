"""The install step covers the build: every header the sources include from
/usr/include and every library the link names comes from a Debian package
that tests/install-deps.sh installs or that one of those pulls in (Depends,
Pre-Depends; install-deps.sh installs without Recommends), or from the
essential base every Debian root has. A machine that happens to have the
package already must not hide a missing install step: the answer is computed
from the package database, not from whether the build worked here.

The closure is read from dpkg's status database (all listed packages are
installed by the time `make test` runs), so no package index is needed."""

import glob
import os
import re
import subprocess

import mtlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def listed_packages():
    out = subprocess.run([os.path.join(REPO, "tests", "install-deps.sh"), "--list"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def installed_db():
    """{package: (essential, provides[], depends groups [[alternative, ...], ...])}
    for every installed package, and {virtual name: [providers]}."""
    fmt = "${Package}\\t${Status}\\t${Essential}\\t${Priority}\\t${Provides}\\t" \
          "${Depends}\\t${Pre-Depends}\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f=" + fmt], capture_output=True,
                         text=True, check=True).stdout
    db, providers = {}, {}

    def names(field):
        return [re.split(r"[\s(:]", alt.strip())[0] for alt in field.split("|") if alt.strip()]

    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[1].endswith(" installed"):
            continue
        pkg = f[0]
        base = f[2] == "yes" or f[3] == "required"
        groups = [names(g) for g in (f[5] + "," + f[6]).split(",") if g.strip()]
        db[pkg] = (base, groups)
        for p in f[4].split(","):
            if p.strip():
                providers.setdefault(names(p)[0], []).append(pkg)
    return db, providers


def closure(roots, db, providers):
    """Installed packages a fresh machine gets from `roots`: each dependency
    group satisfied by its first alternative that is installed here (apt's
    choice), and the essential/required base."""
    todo = list(roots) + [p for p, (base, _) in db.items() if base]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if p not in db:
            todo.extend(providers.get(p, [])[:1])
            continue
        for group in db[p][1]:
            for alt in group:
                if alt in db:
                    todo.append(alt)
                    break
                if providers.get(alt):
                    todo.append(providers[alt][0])
                    break
    return seen


def owners(paths):
    """{path: owning package} for the paths dpkg knows (symlinks followed
    when the path itself is not known): one dpkg -S for them all."""
    real = {p: os.path.realpath(p) for p in paths}
    r = subprocess.run(["dpkg", "-S"] + sorted(set(paths) | set(real.values())),
                       capture_output=True, text=True)
    by_path = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        pkgs, path = line.split(": ", 1)
        by_path[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: by_path.get(p) or by_path.get(real[p]) for p in paths
            if by_path.get(p) or by_path.get(real[p])}


def build_headers():
    """Every /usr/include header the C and BPF sources reach, and the test
    workloads' too."""
    headers = set()
    cflags = ["-Iinclude", "-Isrc", "-I.output", "-D_GNU_SOURCE"]
    c_srcs = [f for f in glob.glob("src/**/*.c", recursive=True)] + \
        glob.glob("tests/**/*.c", recursive=True)
    jobs = [["gcc", "-M", "-MG"] + cflags + [f] for f in c_srcs]
    jobs += [["clang", "-M", "-MG", "-target", "bpf", "-D__TARGET_ARCH_x86", "-Iinclude",
              "-Ivmlinux/x86", "-Ibpf", f] for f in glob.glob("bpf/*.bpf.c")]
    for argv in jobs:
        r = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        if r.returncode != 0:
            raise AssertionError("%s failed: %s" % (" ".join(argv), r.stderr.strip()[:300]))
        for word in r.stdout.replace("\\\n", " ").split():
            if word.startswith("/usr/include/"):
                headers.add(os.path.normpath(word))
    return headers


def link_libraries():
    """Library paths for every -lNAME the Makefiles name (static archive if
    there is one, as the link takes it)."""
    text = ""
    for mk in ["Makefile"] + glob.glob("tests/**/*.mk", recursive=True):
        with open(os.path.join(REPO, mk)) as f:
            text += f.read()
    libs = {}
    for name in sorted(set(re.findall(r"(?<![\w-])-l([a-zA-Z0-9_+]+)(?![\w=+])", text))):
        for kind in ("a", "so"):
            path = subprocess.run(["gcc", "-print-file-name=lib%s.%s" % (name, kind)],
                                  capture_output=True, text=True).stdout.strip()
            if os.path.isabs(path):
                libs[name] = path
                break
        else:
            raise AssertionError("the link names -l%s, and gcc finds no lib%s.a or .so"
                                 % (name, name))
    return libs


def uncovered(packages, needs, db, providers):
    have = closure(packages, db, providers)
    return sorted({pkg for pkg in needs.values() if pkg not in have})


def test_install_list_covers_build():
    for tool in ("dpkg-query", "gcc", "clang"):
        mtlib.require(tool, {"dpkg-query": "dpkg"}.get(tool, tool))
    db, providers = installed_db()
    listed = listed_packages()
    not_installed = [p for p in listed if p not in db]
    if not_installed:
        raise AssertionError("packages in the install list are not installed: %s "
                             "(run tests/install-deps.sh)" % " ".join(not_installed))
    paths = sorted(build_headers()) + sorted(link_libraries().values())
    needs = owners(paths)
    unowned = [p for p in paths if p not in needs]
    if unowned:
        raise AssertionError("no Debian package owns %s: the build uses files the install "
                             "step cannot provide" % ", ".join(unowned[:5]))
    for must in ("/usr/include/dwarf.h", "/usr/include/libelf.h", "/usr/include/bpf/libbpf.h"):
        if must not in needs:
            raise AssertionError("%s is not among the build's headers: the header scan "
                                 "is broken" % must)
    missing = uncovered(listed, needs, db, providers)
    if missing:
        by = {pkg: [p for p, q in needs.items() if q == pkg][:2] for pkg in missing}
        raise AssertionError("the build uses packages tests/install-deps.sh neither installs "
                             "nor pulls in: %s" % "; ".join("%s (%s)" % (k, ", ".join(v))
                                                            for k, v in by.items()))
    # The check can fail: without libdw-dev in the list, dwarf.h is uncovered.
    without = uncovered([p for p in listed if p != "libdw-dev"], needs, db, providers)
    if "libdw-dev" not in without:
        raise AssertionError("with libdw-dev taken out of the list the check still passes "
                             "(uncovered: %s): it cannot fail" % without)
    mtlib.note("%d headers and libraries from %d packages, all installed by the list"
               % (len(needs), len(set(needs.values()))))
