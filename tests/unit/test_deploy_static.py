"""Static checks of everything that deploys the pipeline: Dockerfile, compose, kustomize, alerts, dashboard.

No Docker engine or cluster is needed. ``kubectl kustomize`` renders the overlays when kubectl is on
PATH; the checks that need the rendering are skipped otherwise (the raw-file checks still run).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel

from services.core import metrics as metrics_module
from services.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
OVERLAYS = sorted(p for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").exists())
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROM_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "standings-dashboard.json"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

PREFIX = "STANDINGS_"
# Needed by every process in a deployed environment, although Settings has development defaults
# for them (127.0.0.1 endpoints, the dev pepper that production refuses).
REQUIRED_DEPLOYED = frozenset(
    {
        "STANDINGS_ENVIRONMENT",
        "STANDINGS_TOKEN_PEPPER",
        "STANDINGS_DATABASE__URL",
        "STANDINGS_KAFKA__BOOTSTRAP_SERVERS",
        "STANDINGS_SEARCH__URL",
    }
)
# The processes the one image runs, by compose service / Kubernetes workload, and their HTTP port setting.
SERVICE_PORT_SETTING = {
    "api": "STANDINGS_API__PORT",
    "intake": "STANDINGS_INTAKE__PORT",
    "projector": "STANDINGS_PROJECTOR__HTTP_PORT",
    "indexer": "STANDINGS_INDEXER__HTTP_PORT",
}
CONSUMER_WORKLOADS = ("standings-projector", "standings-indexer")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# --- helpers ------------------------------------------------------------------------------------


def load_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def deploy_yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})


@cache
def settings_fields() -> dict[str, Any]:
    """Every environment variable name Settings reads -> its pydantic FieldInfo (leaves only)."""
    names: dict[str, Any] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            env = f"{prefix}{name.upper()}"
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, env + "__")
            else:
                names[env] = field

    walk(Settings, PREFIX)
    return names


def is_settings_env(name: str) -> bool:
    fields = settings_fields()
    if name in fields:
        return True
    # dict-valued fields (e.g. kafka.extra) also take nested keys: STANDINGS_KAFKA__EXTRA__<key>
    return any(
        name.startswith(env + "__") and str(field.annotation).startswith("dict") for env, field in fields.items()
    )


_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str] | None = None) -> str:
    """Compose variable interpolation: ${X}, ${X:-default}, ${X:?error} ("$$" is a literal "$")."""
    env = env or {}

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in env:
            return env[name]
        if op and op.endswith("-"):
            return arg
        return f"dummy-{name.lower()}"

    return _INTERPOLATION.sub(sub, value.replace("$$", "\x00")).replace("\x00", "$")


@cache
def compose() -> dict[str, Any]:
    docs = load_docs(COMPOSE)
    assert len(docs) == 1
    doc: dict[str, Any] = docs[0]
    return doc


def compose_env(service: str) -> dict[str, str]:
    env = compose()["services"][service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def standings_compose_services() -> list[str]:
    """Compose services that run our image."""
    return [
        name
        for name, svc in compose()["services"].items()
        if "ghcr.io/federation/standings" in interpolate(str(svc.get("image", "")))
    ]


def kustomization(path: Path) -> dict[str, Any]:
    docs = load_docs(path / "kustomization.yaml")
    result: dict[str, Any] = docs[0]
    return result


def generator_env(directory: Path) -> dict[str, str]:
    """Keys set by configMapGenerator (env files and literals) of one kustomization."""
    env: dict[str, str] = {}
    for gen in kustomization(directory).get("configMapGenerator", []):
        for env_file in gen.get("envs", []):
            for line in (directory / env_file).read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip()
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            env[key] = value
    return env


def overlay_config(overlay: Path) -> dict[str, str]:
    """The effective standings-config of an overlay (base merged with the overlay's literals)."""
    return {**generator_env(BASE), **generator_env(overlay)}


def pod_specs(docs: list[Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, name, pod spec) of every workload in a list of manifests."""
    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec", {})
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield kind, doc["metadata"]["name"], spec["template"]["spec"]
        elif kind == "CronJob":
            yield kind, doc["metadata"]["name"], spec["jobTemplate"]["spec"]["template"]["spec"]


def containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


@cache
def base_docs() -> list[Any]:
    docs: list[Any] = []
    for resource in kustomization(BASE)["resources"]:
        docs.extend(load_docs(BASE / resource))
    return docs


def base_workload(name: str) -> dict[str, Any]:
    for doc in base_docs():
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == name:
            result: dict[str, Any] = doc
            return result
    raise AssertionError(f"no Deployment {name} in deploy/base")


def image_ok(ref: str) -> str | None:
    """None when ``ref`` is pinned (a non-latest tag or a sha256 digest), else the problem."""
    if "@" in ref:
        _, digest = ref.split("@", 1)
        return None if DIGEST.match(digest) else f"{ref}: malformed digest"
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"{ref}: no tag (implicitly :latest)"
    tag = last.split(":", 1)[1]
    if tag == "latest" or not tag:
        return f"{ref}: :latest"
    return None


def dockerfile_images() -> list[str]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))
    images = []
    for ref in re.findall(r"^FROM\s+(\S+)", text, re.M):
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], m[0]), ref)
        if ref not in stages:
            images.append(ref)
    return images


@cache
def render(overlay: Path) -> list[Any]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: cannot render kustomize overlays")
    out = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc is not None]


@cache
def exported_metric_names() -> frozenset[str]:
    """Every sample name the metrics module can expose (with _total/_bucket/_sum/_count/... suffixes)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
        "stateset": ("",),
        "enum": ("",),
    }
    names: set[str] = set()
    for obj in vars(metrics_module).values():
        if isinstance(obj, MetricWrapperBase):
            for family in obj.describe():
                names.update(family.name + s for s in suffixes[family.type])
    return frozenset(names)


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_METRIC_REF = re.compile(r"\bstandings_[a-z0-9_]+\b")


def referenced_metrics(promql: str) -> set[str]:
    """standings_* identifiers in a PromQL expression (label values in quotes are ignored)."""
    return set(_METRIC_REF.findall(_QUOTED.sub('""', promql)))


def alert_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = load_docs(ALERTS)[0]["groups"]
    return groups


def alert_rules() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in alert_groups() for rule in group["rules"]}


def settings_from_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Settings:
    import os

    for key in list(os.environ):
        if key.upper().startswith(PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def duration_s(value: str | int | float) -> float:
    """Compose/Prometheus durations: 45s, 2m, 1m30s, or a bare number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    total, units = 0.0, {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value):
        total += float(number) * units[unit]
    return total


# --- parsing --------------------------------------------------------------------------------------


def test_every_yaml_file_parses() -> None:
    files = [COMPOSE, *deploy_yaml_files()]
    assert len(files) > 10
    for path in files:
        assert load_docs(path), f"{path} is empty"


def test_dashboard_json_parses() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    assert [p for p in dashboard["panels"] if p.get("targets")]


# --- settings wiring --------------------------------------------------------------------------------


def _k8s_env_names(docs: list[Any]) -> Iterator[tuple[str, str]]:
    for _, workload, pod in pod_specs(docs):
        for container in containers(pod):
            for item in container.get("env", []):
                yield workload, item["name"]


def test_settings_walk_finds_nested_fields() -> None:
    fields = settings_fields()
    assert "STANDINGS_DATABASE__URL" in fields
    assert "STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS" in fields
    assert "STANDINGS_PROJECTOR__CONSUMER" not in fields  # a model, not a leaf


def test_compose_env_vars_are_settings_fields() -> None:
    unknown = {
        (service, key)
        for service in compose()["services"]
        for key in compose_env(service)
        if key.upper().startswith(PREFIX) and not is_settings_env(key.upper())
    }
    assert not unknown, f"compose sets STANDINGS_* variables Settings does not read: {sorted(unknown)}"


def test_manifest_env_vars_are_settings_fields() -> None:
    names: set[tuple[str, str]] = set()
    for path in deploy_yaml_files():
        names.update((str(path.relative_to(ROOT)), n) for _, n in _k8s_env_names(load_docs(path)))
    for directory in [BASE, *OVERLAYS]:
        names.update((str(directory.relative_to(ROOT)), n) for n in generator_env(directory))
    example = DEPLOY / "compose.env.example"
    for line in example.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            names.add((str(example.relative_to(ROOT)), line.split("=", 1)[0]))
    unknown = sorted((where, n) for where, n in names if n.startswith(PREFIX) and not is_settings_env(n))
    assert not unknown, f"STANDINGS_* variables that Settings does not read: {unknown}"


def test_compose_services_set_every_required_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    required = REQUIRED_DEPLOYED | {n for n, f in settings_fields().items() if f.is_required()}
    services = standings_compose_services()
    assert set(SERVICE_PORT_SETTING) | {"migrate"} <= set(services)
    for service in services:
        env = compose_env(service)
        missing = required - set(env)
        assert not missing, f"compose service {service} lacks {sorted(missing)}"
        assert env["STANDINGS_ENVIRONMENT"] == "production"
        settings = settings_from_env(monkeypatch, env)  # validates types and the production rules
        assert settings.environment == "production"


def test_k8s_workloads_set_every_required_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    required = REQUIRED_DEPLOYED | {n for n, f in settings_fields().items() if f.is_required()}
    for overlay in OVERLAYS:
        config = overlay_config(overlay)
        for kind, name, pod in pod_specs(base_docs()):
            for container in containers(pod):
                refs = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
                assert refs == ["standings-config"], f"{kind} {name} must read the shared standings-config"
                env = {**config, **{e["name"]: "dummy-secret" for e in container.get("env", [])}}
                missing = required - set(env)
                assert not missing, f"{overlay.name}: {kind} {name} lacks {sorted(missing)}"
                settings_from_env(monkeypatch, env)


def test_service_ports_match_settings_and_scrape_config() -> None:
    prometheus = load_docs(PROM_CONFIG)[0]
    scraped = {
        sd["names"][0]: sd["port"] for job in prometheus["scrape_configs"] for sd in job.get("dns_sd_configs", [])
    }
    config = generator_env(BASE)
    for service, setting in SERVICE_PORT_SETTING.items():
        port = int(compose_env(service)[setting])
        assert scraped[service] == port, f"prometheus scrapes {service} on {scraped[service]}, it listens on {port}"
        assert int(config[setting]) == port, f"kubernetes and compose disagree on the {service} port"
        container = base_workload(f"standings-{service}")["spec"]["template"]["spec"]["containers"][0]
        assert [p["containerPort"] for p in container["ports"]] == [port]
        healthcheck = " ".join(compose()["services"][service]["healthcheck"]["test"])
        assert f":{port}/readyz" in healthcheck


def test_consumer_config_is_identical_for_every_group_member() -> None:
    """One env for all members: no per-service override of consumer-group knobs (compose and k8s)."""
    knobs = {n for n in settings_fields() if n.startswith("STANDINGS_PROJECTOR__CONSUMER__")}
    values = {
        service: {k: v for k, v in compose_env(service).items() if k in knobs}
        for service in standings_compose_services()
    }
    assert len({json.dumps(v, sort_keys=True) for v in values.values()}) == 1, values
    for kind, name, pod in pod_specs(base_docs()):
        for container in containers(pod):
            overridden = knobs & {e["name"] for e in container.get("env", [])}
            assert not overridden, f"{kind} {name} overrides consumer settings {overridden} outside the ConfigMap"


# --- images ---------------------------------------------------------------------------------------


def test_no_latest_and_no_untagged_image_anywhere() -> None:
    refs: list[tuple[str, str]] = [("Dockerfile", ref) for ref in dockerfile_images()]
    refs += [
        (f"compose:{name}", interpolate(svc["image"])) for name, svc in compose()["services"].items() if "image" in svc
    ]
    for path in deploy_yaml_files():
        for _, name, pod in pod_specs(load_docs(path)):
            refs += [(f"{path.name}:{name}", c["image"]) for c in containers(pod)]
    problems = [f"{where}: {problem}" for where, ref in refs if (problem := image_ok(ref))]
    assert not problems, problems
    for path in [DOCKERFILE, COMPOSE, *deploy_yaml_files()]:
        assert ":latest" not in path.read_text(encoding="utf-8"), f"{path} mentions :latest"


def test_dockerfile_base_is_pinned_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = set(dockerfile_images())
    assert re.match(r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$", base), base
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT\s+\[.*"standings"\]', text, re.M)


def test_consumer_workloads_are_pinned_by_digest_in_every_overlay() -> None:
    consumer_images = {
        c["image"].split(":")[0]
        for name in CONSUMER_WORKLOADS
        for c in base_workload(name)["spec"]["template"]["spec"]["containers"]
    }
    assert OVERLAYS, "no kustomize overlay found"
    for overlay in OVERLAYS:
        entries = {e["name"]: e for e in kustomization(overlay).get("images", [])}
        for image in consumer_images:
            entry = entries.get(image)
            assert entry, f"{overlay.name}: no images: entry pins {image}"
            assert DIGEST.match(str(entry.get("digest", ""))), f"{overlay.name}: {image} is not pinned by digest"
            assert "newTag" not in entry, f"{overlay.name}: {image} has a tag next to its digest"


def test_rendered_overlays_run_every_workload_by_digest() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay)
        seen = set()
        for kind, name, pod in pod_specs(docs):
            for container in containers(pod):
                assert "@sha256:" in container["image"], f"{overlay.name}: {kind} {name} runs {container['image']}"
                seen.add(name)
        assert set(CONSUMER_WORKLOADS) <= seen


# --- workloads ------------------------------------------------------------------------------------


def test_deployments_have_probes_resources_and_non_root_security() -> None:
    deployments = [d for d in base_docs() if d.get("kind") == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {f"standings-{s}" for s in SERVICE_PORT_SETTING}
    for kind, name, pod in pod_specs(base_docs()):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        for container in containers(pod):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
            if kind == "Deployment":
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_every_deployment_has_a_disruption_budget() -> None:
    budgets = [d for d in base_docs() if d.get("kind") == "PodDisruptionBudget"]
    for deployment in (d for d in base_docs() if d.get("kind") == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert matching, f"no PodDisruptionBudget for {deployment['metadata']['name']}"
        for budget in matching:
            # minAvailable on a single-replica workload would block node drains forever
            assert budget["spec"].get("maxUnavailable") == 1


def test_termination_grace_exceeds_the_batch_shutdown_bound() -> None:
    defaults = Settings()
    for overlay in OVERLAYS:
        config = overlay_config(overlay)

        def setting(env: str, default: float, cfg: Mapping[str, str] = config) -> float:
            return float(cfg.get(env, default))

        projector = defaults.projector
        bound = setting("STANDINGS_PROJECTOR__SHUTDOWN_GRACE_S", projector.shutdown_grace_s) + setting(
            "STANDINGS_PROJECTOR__DLQ_FLUSH_TIMEOUT_S", projector.dlq_flush_timeout_s
        )
        bound = max(
            bound, setting("STANDINGS_PROJECTOR__CONSUMER__BATCH_TIMEOUT_S", projector.consumer.batch_timeout_s)
        )
        grace = base_workload("standings-projector")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > bound, f"projector grace {grace}s <= batch shutdown bound {bound}s"
        compose_grace = duration_s(compose()["services"]["projector"]["stop_grace_period"])
        assert compose_grace > bound, f"compose projector stop_grace_period {compose_grace}s <= {bound}s"

        request_timeout = setting("STANDINGS_SEARCH__REQUEST_TIMEOUT_S", defaults.search.request_timeout_s)
        grace = base_workload("standings-indexer")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > request_timeout


def test_keda_never_scales_beyond_the_partition_count() -> None:
    defaults = Settings()
    scaled = [d for d in base_docs() if d.get("kind") == "ScaledObject"]
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"]["name"] == "standings-projector"
    assert "replicas" not in base_workload("standings-projector")["spec"], "KEDA owns the projector's replicas"
    for overlay in OVERLAYS:
        config = overlay_config(overlay)
        partitions = int(config.get("STANDINGS_KAFKA__PARTITIONS", defaults.kafka.partitions))
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == config.get(
            "STANDINGS_PROJECTOR__GROUP_ID", defaults.projector.group_id
        )
        assert trigger["metadata"]["topic"] == config.get("STANDINGS_KAFKA__TOPIC", defaults.kafka.topic)


def test_cronjobs_run_the_audit_and_the_daily_recompute() -> None:
    jobs = {d["metadata"]["name"]: d for d in base_docs() if d.get("kind") == "CronJob"}
    args = {
        tuple(c["args"])
        for job in jobs.values()
        for c in job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    }
    assert any(a[:2] == ("rankings", "audit") for a in args)
    assert ("rankings", "recompute") in args
    for job in jobs.values():
        assert job["spec"]["concurrencyPolicy"] == "Forbid"


# --- compose ----------------------------------------------------------------------------------------


def test_compose_healthchecks_gate_startup() -> None:
    services = compose()["services"]
    one_shot = {name for name, svc in services.items() if svc.get("restart") == "no"}
    assert one_shot == {"migrate"}
    for name, svc in services.items():
        if name not in one_shot:
            assert svc.get("healthcheck", {}).get("test"), f"compose service {name} has no healthcheck"
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for dep, cond in depends.items():
            expected = "service_completed_successfully" if dep in one_shot else "service_healthy"
            assert cond == {"condition": expected}, f"{name} -> {dep}: {cond}"
    for service in SERVICE_PORT_SETTING:
        assert services[service]["command"] == [service]
        assert services[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "standings migrate" in services["migrate"]["command"][0]
    assert "standings topics" in services["migrate"]["command"][0]


def test_compose_loads_the_alert_rules_and_the_dashboard() -> None:
    services = compose()["services"]
    prom_mounts = " ".join(services["prometheus"]["volumes"])
    assert "./deploy/prometheus/alerts.yml:" in prom_mounts
    rule_globs = load_docs(PROM_CONFIG)[0]["rule_files"]
    assert any(Path(g).parent == Path("/etc/prometheus/rules") for g in rule_globs)
    grafana_mounts = " ".join(services["grafana"]["volumes"])
    assert "./deploy/grafana/standings-dashboard.json:" in grafana_mounts
    for mount in [*services["prometheus"]["volumes"], *services["grafana"]["volumes"]]:
        source = mount.split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"compose mounts missing {source}"


# --- alerts and dashboard ---------------------------------------------------------------------------


def test_prometheus_rule_matches_the_compose_rule_file() -> None:
    (rule,) = [d for d in base_docs() if d.get("kind") == "PrometheusRule"]
    assert rule["spec"]["groups"] == alert_groups()


def test_alerts_reference_only_exported_metrics() -> None:
    exported = exported_metric_names()
    assert "standings_dlq_messages_total" in exported
    assert "standings_projector_batch_duration_seconds_bucket" in exported
    for name, rule in alert_rules().items():
        used = referenced_metrics(rule["expr"])
        unknown = used - exported
        assert not unknown, f"alert {name} uses metrics services/core/metrics.py does not export: {unknown}"


def test_required_alerts_exist_with_their_thresholds() -> None:
    rules = alert_rules()
    exprs = " ".join(r["expr"] for r in rules.values())
    for metric in (
        "standings_rankings_index_freshness_seconds",
        "standings_dlq_messages_total",
        "standings_consumer_rebalances_total",
        "standings_consumer_config_drift_members",
        "standings_consumer_lag_messages",
        "standings_search_breaker_state",
    ):
        assert metric in exprs, f"no alert on {metric}"
    stale = rules["StandingsRankingsIndexStale"]
    slo = float(generator_env(BASE).get("STANDINGS_SEARCH__FRESHNESS_SLO_S", Settings().search.freshness_slo_s))
    assert float(stale["expr"].rsplit(">", 1)[1]) == slo
    assert duration_s(stale["for"]) == 120
    assert rules["StandingsSearchBreakerOpen"]["expr"].endswith("== 2")
    assert "increase(standings_dlq_messages_total[10m])" in rules["StandingsDeadLetters"]["expr"]


def test_every_alert_has_a_runbook_section() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    for name, rule in alert_rules().items():
        runbook = rule["annotations"]["runbook_url"]
        assert runbook.startswith("docs/operations.md#"), name
        assert runbook.split("#", 1)[1] in headings, f"docs/operations.md has no section for {name}"
        assert rule["labels"]["severity"] in {"page", "ticket"}


def test_dashboard_queries_reference_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = exported_metric_names()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dashboard.get("annotations", {}).get("list", []) if "expr" in a]
    used: set[str] = set()
    for expr in exprs:
        refs = referenced_metrics(expr)
        assert refs, f"dashboard query without a standings metric: {expr}"
        assert not refs - exported, f"dashboard query uses unknown metrics {refs - exported}: {expr}"
        used |= refs
    alerting = set().union(*(referenced_metrics(r["expr"]) for r in alert_rules().values()))
    assert alerting <= used, f"metrics alerted on but not on the dashboard: {alerting - used}"


def test_metric_reference_parser() -> None:
    expr = 'sum by (group) (rate(standings_consumer_rebalances_total{kind="standings_x"}[5m])) > 0'
    assert referenced_metrics(expr) == {"standings_consumer_rebalances_total"}
    assert image_ok("python:3.11.14-slim-bookworm") is None
    assert image_ok("ghcr.io/x/y@sha256:" + "a" * 64) is None
    assert image_ok("localhost:5000/x") is not None
    assert image_ok("x:latest") is not None
    assert interpolate("${A:?boom}/${B:-b}/$${C}") == "dummy-a/b/${C}"


# --- traces -------------------------------------------------------------------------------------------


def test_compose_sends_traces_through_the_collector_to_jaeger() -> None:
    services = compose()["services"]
    endpoint = compose()["x-standings-env"]["STANDINGS_TRACING__OTLP_ENDPOINT"]
    assert endpoint == "http://otel-collector:4318/v1/traces"
    for service in SERVICE_PORT_SETTING:
        assert services[service]["environment"]["STANDINGS_TRACING__OTLP_ENDPOINT"] == endpoint
    collector = services["otel-collector"]
    mount = next(m for m in collector["volumes"] if m.startswith("./deploy/otel/collector.yaml:"))
    config_path = mount.split(":")[1]
    assert collector["command"] == [f"--config={config_path}"]
    (config,) = load_docs(DEPLOY / "otel" / "collector.yaml")
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    host = config["exporters"][exporter]["endpoint"].split(":")[0]
    assert host in services and services[host]["image"].startswith("jaegertracing/jaeger:")
    assert "127.0.0.1:16686:16686" in services["jaeger"]["ports"]
    assert set(pipeline["processors"]) <= set(config["processors"])
