"""deploy/kubernetes renders with `kubectl kustomize`, and every rendered object is what the
fleet needs, checked field by field through python3-kubernetes' models: an Indexed Job with
parallelism = completions = N whose pods run --segment $(JOB_COMPLETION_INDEX)/N, resource
requests, Prometheus scrape annotations, a headless Service, the ConfigMaps with the scenario and
its Lua script; scripts/k8s-run.sh renders the same with N, the run id and the start it sets.
test_fleet.py runs the pods' command line itself."""

import datetime
import re

import kubernetes.client
import pytest

from fleet_support import find, job_container, render, render_run_script

API = kubernetes.client.ApiClient()


def model(obj, kind):
    """The object as a typed model (wrong types or missing required fields raise)."""
    return API._ApiClient__deserialize(obj, kind)


@pytest.fixture(scope="module")
def objects():
    return render()


def test_rendered_objects(objects):
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == [("ConfigMap", "pelt-fleet"), ("ConfigMap", "pelt-scenario"),
                     ("Job", "pelt-fleet"), ("Service", "pelt-fleet")]


def test_job(checks, objects):
    job = model(find(objects, "Job", "pelt-fleet"), "V1Job")
    fleet = find(objects, "ConfigMap", "pelt-fleet")["data"]
    n = int(fleet["instances"])
    spec = job.spec
    checks.equal(spec.completion_mode, "Indexed", "completion mode")
    checks.equal(spec.parallelism, n, "parallelism = instances")
    checks.equal(spec.completions, n, "completions = instances")
    checks.equal(spec.backoff_limit, 0, "a failed pod is not retried (its segment would run twice)")
    pod = spec.template
    checks.equal(pod.spec.restart_policy, "Never", "restart policy")
    ann = pod.metadata.annotations
    checks.equal(ann.get("prometheus.io/scrape"), "true", "scrape annotation")
    c = pod.spec.containers[0]
    ports = {p.name: p.container_port for p in c.ports}
    checks.equal(ann.get("prometheus.io/port"), str(ports.get("metrics")), "scrape port = metrics port")
    checks.equal(ann.get("prometheus.io/path"), "/metrics", "scrape path")
    checks.check(c.resources.requests.get("cpu") and c.resources.requests.get("memory"),
                 f"resource requests: {c.resources.requests}")
    checks.equal(str(c.resources.requests.get("cpu")), fleet["threads"], "CPU request = threads")
    args = c.args
    checks.check(args[:2] == ["run", "/etc/pelt/scenario.toml"], f"runs the mounted scenario: {args}")
    checks.check("--segment" in args and args[args.index("--segment") + 1] ==
                 "$(JOB_COMPLETION_INDEX)/$(PELT_INSTANCES)", f"--segment from the completion index: {args}")
    for flag in ("--start-at", "--run-id", "--instance", "--metrics", "--threads"):
        checks.check(flag in args, f"{flag} in {args}")
    checks.equal(args[args.index("--metrics") + 1], f"0.0.0.0:{ports.get('metrics')}", "metrics address")
    # Every $(VAR) the command line uses is defined, from the index annotation, the pod name or
    # a key that the pelt-fleet ConfigMap has.
    env = {e.name: e for e in c.env}
    used = set(re.findall(r"\$\(([A-Za-z_0-9]+)\)", " ".join(args)))
    checks.check(used <= set(env), f"variables {used - set(env)} are defined")
    checks.equal(env["JOB_COMPLETION_INDEX"].value_from.field_ref.field_path,
                 "metadata.annotations['batch.kubernetes.io/job-completion-index']", "index source")
    checks.equal(env["POD_NAME"].value_from.field_ref.field_path, "metadata.name", "pod name source")
    for e in c.env:
        ref = e.value_from.config_map_key_ref if e.value_from else None
        if ref:
            checks.check(ref.name == "pelt-fleet" and ref.key in fleet, f"{e.name}: key {ref.key} of {ref.name}")
    mounts = {m.name: m.mount_path for m in c.volume_mounts}
    volumes = {v.name: v.config_map.name for v in pod.spec.volumes if v.config_map}
    checks.equal(mounts.get("scenario"), "/etc/pelt", "scenario mount")
    checks.equal(volumes.get("scenario"), "pelt-scenario", "scenario volume")
    checks.equal(c.command[:2], ["/bin/sh", "-c"], "the wrapper prints the summary into the log")


def test_scenario_config_map(checks, objects):
    cm = model(find(objects, "ConfigMap", "pelt-scenario"), "V1ConfigMap")
    checks.check({"scenario.toml", "fleet.lua"} <= set(cm.data), f"scenario and script: {list(cm.data)}")
    checks.check('script = "fleet.lua"' in cm.data["scenario.toml"], "the scenario names its script")
    checks.check("function request()" in cm.data["fleet.lua"], "the Lua script")


def test_service(checks, objects):
    svc = model(find(objects, "Service", "pelt-fleet"), "V1Service")
    pod_labels = find(objects, "Job", "pelt-fleet")["spec"]["template"]["metadata"]["labels"]
    checks.equal(svc.spec.cluster_ip, "None", "headless")
    checks.check(all(pod_labels.get(k) == v for k, v in svc.spec.selector.items()),
                 f"selector {svc.spec.selector} selects the pods {pod_labels}")
    checks.equal([(p.name, p.port, p.target_port) for p in svc.spec.ports], [("metrics", 9464, "metrics")],
                 "metrics port")
    job = find(objects, "Job", "pelt-fleet")
    checks.equal(job["spec"]["template"]["spec"].get("subdomain"), "pelt-fleet", "pods in the Service's domain")


def test_run_script_renders_n_and_start(checks):
    before = datetime.datetime.now(datetime.timezone.utc)
    objects = render_run_script("-n", "3", "-t", "1", "-T", "http://10.0.0.9:8080", "-i", "reg.local/pelt:7",
                                "-s", "45")
    job = model(find(objects, "Job", "pelt-fleet"), "V1Job")
    fleet = find(objects, "ConfigMap", "pelt-fleet")["data"]
    checks.equal((job.spec.parallelism, job.spec.completions), (3, 3), "parallelism and completions")
    checks.equal(fleet["instances"], "3", "instances")
    checks.equal(fleet["threads"], "1", "threads")
    checks.equal(fleet["target"], "http://10.0.0.9:8080", "target")
    checks.check(re.fullmatch(r"pelt-\d{8}T\d{6}Z", fleet["run_id"]), f"run id {fleet['run_id']}")
    start = datetime.datetime.strptime(fleet["start_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    lead = (start - before).total_seconds()
    checks.check(40 <= lead <= 50, f"start {lead:.0f} s ahead")
    checks.equal(job_container(objects)["image"], "reg.local/pelt:7", "image")
    checks.equal(job.spec.completion_mode, "Indexed", "still Indexed")
