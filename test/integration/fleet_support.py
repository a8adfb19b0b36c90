"""Helpers for the fleet tests (test_fleet.py, test_kubernetes.py): the Kubernetes manifests of
deploy/kubernetes rendered by `kubectl kustomize`, and the command line a Job pod runs, with its
$(VAR) references resolved the way the kubelet resolves them."""

import os
import re
import shutil
import subprocess

import yaml

from harness import SOURCE_DIR

KUSTOMIZE_DIR = os.path.join(SOURCE_DIR, "deploy", "kubernetes")
K8S_RUN = os.path.join(SOURCE_DIR, "scripts", "k8s-run.sh")
SUMMARY_BEGIN = "----- pelt summary json -----"
SUMMARY_END = "----- end pelt summary json -----"


def kubectl():
    path = shutil.which("kubectl")
    assert path, "kubectl is installed (Debian: kubernetes-client; make deps)"
    return path


def render(directory=KUSTOMIZE_DIR):
    """The objects `kubectl kustomize DIR` renders, as dicts."""
    cp = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"kubectl kustomize {directory}: {cp.stderr}"
    return [d for d in yaml.safe_load_all(cp.stdout) if d]


def render_run_script(*args):
    """The objects scripts/k8s-run.sh --dry-run renders with `args`."""
    cp = subprocess.run(["sh", K8S_RUN, "--dry-run", *args], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"k8s-run.sh --dry-run {args}: {cp.stderr}"
    return [d for d in yaml.safe_load_all(cp.stdout) if d]


def find(objects, kind, name):
    for o in objects:
        if o.get("kind") == kind and o.get("metadata", {}).get("name") == name:
            return o
    raise AssertionError(f"no {kind} {name} in the rendered manifests")


def job_container(objects):
    job = find(objects, "Job", "pelt-fleet")
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "the Job has one container"
    return containers[0]


def resolve(text, env):
    """Kubernetes' $(VAR) expansion: a defined variable is replaced, $$ escapes, others stay."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, text)


def pod_argv(objects, env):
    """The container's command and args with $(VAR) resolved from `env` (what the kubelet runs)."""
    c = job_container(objects)
    return [resolve(a, env) for a in c.get("command", []) + c.get("args", [])]
