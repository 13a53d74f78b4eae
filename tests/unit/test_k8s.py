"""The Kubernetes manifests, rendered and checked offline: the production overlay is rendered with
a narrow Kustomize (only what deploy/k8s uses: resources, namespace, images and strategic-merge
patches by name; anything else fails loudly), every object validates against its schema (the
Kubernetes API's strict schemas from kubernetes-validate; Strimzi's CRD schemas through
tools/deploy), and the objects fit together and fit the code."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings
from setka_contracts import topics
from setka_runtime import deadletters

from gateway.settings import GatewaySettings
from portal.settings import PortalSettings
from services.analytics.projections import SUBSCRIBED
from services.analytics.settings import AnalyticsSettings
from services.events.regional import INBOUND as EVENTS_INBOUND
from services.events.settings import EventsSettings
from services.registry.settings import RegistrySettings
from tests.unit.test_compose import SECRETS, construct, image_environment, unread

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
OVERLAY = K8S / "overlays/production"
KUBERNETES_VERSION = "1.33"
STRIMZI_VALIDATOR = ROOT / "tools/deploy/validate-strimzi.mjs"

Object = dict[str, Any]

# -- a narrow Kustomize -------------------------------------------------------------------------------

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name"}
"""The strategic-merge keys of the lists our patches touch (the Kubernetes API's patchMergeKey);
any other list in a patch replaces the list it patches, as in Kustomize."""


def load_documents(path: Path) -> list[Object]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def merge(target: Any, patch: Any, key: str = "") -> Any:
    if isinstance(target, dict) and isinstance(patch, dict):
        merged = dict(target)
        for name, value in patch.items():
            merged[name] = merge(target[name], value, name) if name in target else copy.deepcopy(value)
        return merged
    if isinstance(target, list) and isinstance(patch, list) and key in MERGE_KEYS:
        by = MERGE_KEYS[key]
        merged_list = [copy.deepcopy(item) for item in target]
        for item in patch:
            matches = [i for i, existing in enumerate(merged_list) if existing.get(by) == item.get(by)]
            if matches:
                merged_list[matches[0]] = merge(merged_list[matches[0]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def identity(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def render(directory: Path) -> list[Object]:
    """What `kustomize build directory` gives for the features deploy/k8s uses."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(kustomization) - SUPPORTED
    assert not unsupported, f"{directory}: {unsupported} is beyond this test's Kustomize; extend render()"
    objects: list[Object] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        objects.extend(render(path) if path.is_dir() else load_documents(path))
    seen = [identity(obj) for obj in objects]
    assert len(seen) == len(set(seen)), f"{directory}: an object is declared twice"
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, f"{directory}: only `patches: - path:` is supported"
        for change in load_documents(directory / patch["path"]):
            index = [i for i, obj in enumerate(objects) if identity(obj) == identity(change)]
            assert index, f"{patch['path']} patches {identity(change)}, which is not there"
            objects[index[0]] = merge(objects[index[0]], change)
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] != "Namespace":
            obj["metadata"]["namespace"] = namespace
        for container in containers_of(obj):
            for image in kustomization.get("images", []):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    new = image.get("newName", name)
                    if "digest" in image:
                        container["image"] = f"{new}@{image['digest']}"
                    else:
                        container["image"] = f"{new}:{image.get('newTag', tag)}".rstrip(":")
    return objects


def containers_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] != "Deployment":
        return []
    return obj["spec"]["template"]["spec"]["containers"]


RENDERED = render(OVERLAY)
BY_KIND: dict[str, dict[str, Object]] = {}
for _obj in RENDERED:
    BY_KIND.setdefault(_obj["kind"], {})[_obj["metadata"]["name"]] = _obj
DEPLOYMENTS = BY_KIND["Deployment"]
COMPONENTS = {"registry": 8001, "events": 8002, "analytics": 8003, "gateway": 8000, "portal": 8010}
SETTINGS: dict[str, type[BaseSettings]] = {
    "registry": RegistrySettings,
    "events": EventsSettings,
    "analytics": AnalyticsSettings,
    "gateway": GatewaySettings,
    "portal": PortalSettings,
}
CONSUMES: dict[str, set[str]] = {
    "registry": set(),
    "events": {topics.REGISTRY, *EVENTS_INBOUND},
    "analytics": set(SUBSCRIBED),
    "gateway": set(),
    "portal": set(),
}
"""The topics each process reads in its consumer group, from the code that subscribes."""
PUBLISHES = {
    "registry": {topics.REGISTRY, topics.AUDIT},
    "events": {topics.EVENTS, topics.AUDIT},
    "analytics": {topics.ANALYTICS},
}
PURGES: dict[str, set[str]] = {
    "registry": set(deadletters.purged_topics()),
    "events": set(),
    "analytics": set(),
}
"""The dead-letter topics each service removes an erased person's letters from (the registry, after
an erasure: :func:`setka_runtime.deadletters.purge`)."""


def test_the_renderer_applies_patches_images_and_the_namespace() -> None:
    gateway = DEPLOYMENTS["setka-gateway"]
    (container,) = containers_of(gateway)
    assert container["image"] == "registry.example.org/setka/setka:0.1.0"
    assert container["resources"]["requests"]["cpu"] == "250m"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # kept, not replaced
    assert BY_KIND["HorizontalPodAutoscaler"]["setka-events"]["spec"]["minReplicas"] == 2
    assert (
        BY_KIND["HorizontalPodAutoscaler"]["setka-events"]["spec"]["scaleTargetRef"]["name"] == "setka-events"
    )
    assert {obj["metadata"].get("namespace") for obj in RENDERED if obj["kind"] != "Namespace"} == {"setka"}


# -- schemas -----------------------------------------------------------------------------------------


def test_every_kubernetes_object_validates_against_the_api_schema_strictly() -> None:
    core = [obj for obj in RENDERED if not obj["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {obj["kind"] for obj in core} >= {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    errors = []
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{identity(obj)}: {exc.message}")
    assert errors == []
    typo = copy.deepcopy(DEPLOYMENTS["setka-registry"])
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSION, strict=True)


def validate_strimzi(objects: list[Object]) -> list[dict[str, Any]]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Strimzi schemas are checked by tools/deploy")
    if not (ROOT / "tools/deploy/node_modules/@kubernetes-models/strimzi-kafka-operator").exists():
        pytest.fail("tools/deploy/node_modules is missing: `make env` installs it (npm ci)")
    result = subprocess.run(
        ["node", str(STRIMZI_VALIDATOR)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=STRIMZI_VALIDATOR.parent,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_every_strimzi_resource_validates_against_the_strimzi_crd_schemas() -> None:
    strimzi = [obj for obj in RENDERED if obj["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {obj["kind"] for obj in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    assert [r for r in validate_strimzi(strimzi) if r["errors"]] == []
    broken = copy.deepcopy(BY_KIND["KafkaTopic"]["setka-registry"])
    broken["spec"]["partitions"] = "three"
    (result,) = validate_strimzi([broken])
    assert result["errors"] == ["/spec/partitions must be integer"]


# -- the objects fit together --------------------------------------------------------------------------


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


def pod_labels(deployment: Object) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def test_every_service_selects_a_deployment_and_names_its_port() -> None:
    for name, service in BY_KIND["Service"].items():
        selected = [
            d
            for d in DEPLOYMENTS.values()
            if labels_match({"matchLabels": service["spec"]["selector"]}, pod_labels(d))
        ]
        assert len(selected) == 1, name
        (container,) = containers_of(selected[0])
        port_names = {port["name"] for port in container["ports"]}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    for deployment in DEPLOYMENTS.values():
        assert labels_match(deployment["spec"]["selector"], pod_labels(deployment))


def test_every_deployment_probes_healthz_and_readyz_on_its_own_port() -> None:
    served = (ROOT / "runtime/setka_runtime/health.py").read_text(encoding="utf-8")
    assert 'Route("/healthz"' in served and 'Route("/readyz"' in served
    for component, port in COMPONENTS.items():
        (container,) = containers_of(DEPLOYMENTS[f"setka-{component}"])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert SETTINGS[component].model_fields["port"].default == port
        probes = {
            kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        }
        assert {kind: probe["path"] for kind, probe in probes.items()} == {
            "startupProbe": "/healthz",
            "readinessProbe": "/readyz",
            "livenessProbe": "/healthz",
        }
        assert {probe["port"] for probe in probes.values()} == {"http"}
        assert container["command"][:3] == [
            "python",
            "-m",
            component if component in ("gateway", "portal") else f"services.{component}",
        ]


def partitions_of(topic: str) -> int:
    (declared,) = [t for t in BY_KIND["KafkaTopic"].values() if t["spec"]["topicName"] == topic]
    return declared["spec"]["partitions"]


def test_every_autoscaler_targets_a_deployment_and_no_consumer_outgrows_its_partitions() -> None:
    autoscalers = BY_KIND["HorizontalPodAutoscaler"]
    # the workspace keeps its sessions in its process: one replica, no autoscaler (portal.yaml)
    assert set(autoscalers) == set(DEPLOYMENTS) - {"setka-portal"}
    assert DEPLOYMENTS["setka-portal"]["spec"]["replicas"] == 1
    for name, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert "replicas" not in DEPLOYMENTS[name]["spec"], f"{name}: the autoscaler owns the replica count"
        component = name.removeprefix("setka-")
        assert hpa["spec"]["minReplicas"] >= 2, f"{name}: production keeps two replicas"
        if CONSUMES[component]:
            bound = min(partitions_of(topic) for topic in CONSUMES[component])
            assert hpa["spec"]["maxReplicas"] <= bound, f"{name}: replicas past {bound} partitions idle"


def test_every_deployment_has_a_disruption_budget() -> None:
    budgets = BY_KIND["PodDisruptionBudget"]
    for name, deployment in DEPLOYMENTS.items():
        covering = [
            b for b in budgets.values() if labels_match(b["spec"]["selector"], pod_labels(deployment))
        ]
        assert len(covering) == 1, name


# -- the environment each process gets ----------------------------------------------------------------


def environment_of(component: str) -> dict[str, str]:
    """The container's environment: the image's ENV, its ConfigMaps, its variables (secrets given
    test values)."""
    (container,) = containers_of(DEPLOYMENTS[f"setka-{component}"])
    environment = image_environment()
    for source in container.get("envFrom", []):
        environment.update(BY_KIND["ConfigMap"][source["configMapRef"]["name"]]["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            key = reference["key"]
            if key.endswith("_DATABASE_URL"):
                environment[variable["name"]] = f"postgresql://setka:pw@db.example.org:5432/{component}"
            else:
                environment[variable["name"]] = SECRETS.get(key, "a-kafka-password-from-strimzi")
    return environment


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_every_variable_a_pod_gets_is_a_setting_its_process_reads(component: str) -> None:
    environment = environment_of(component)
    given = {name for name in environment if name not in image_environment()}
    assert unread(dict.fromkeys(given, ""), (SETTINGS[component],)) == set()


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_the_settings_of_every_pod_build_from_exactly_its_environment(component: str, tmp_path: Path) -> None:
    environment = environment_of(component)
    if "KAFKA_SSL_CAFILE" in environment:
        # The settings check that the CA file is there: the pod mounts it (the next test), here a
        # stand-in takes its place.
        assert environment["KAFKA_SSL_CAFILE"] == "/etc/setka/kafka-ca/ca.crt"
        stand_in = tmp_path / "ca.crt"
        stand_in.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        environment["KAFKA_SSL_CAFILE"] = str(stand_in)
    built: Any = construct(SETTINGS[component], environment)
    if component == "gateway":
        assert built.production and built.registry_url == "http://setka-registry:8001/graphql"
        return
    if component == "portal":
        assert built.environment == "production" and built.oidc and not built.demo
        assert built.gateway_url == "http://setka-gateway:8000" and built.oidc_client_secret
        return
    assert built.database_url.startswith("postgresql://")
    assert built.internal_token_secret and built.metrics_token
    assert (built.snils_hmac_key is not None) == (component in ("registry", "events"))
    assert (built.kafka_security_protocol, built.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert built.kafka_sasl_username == f"setka-{component}"
    assert (
        built.kafka_bootstrap_servers.split(":")[0]
        in BY_KIND["Kafka"]["setka-kafka"]["metadata"]["name"] + "-kafka-bootstrap"
    )


def test_each_service_reads_the_password_of_its_own_kafka_user_and_mounts_the_cluster_ca() -> None:
    for component in ("registry", "events", "analytics"):
        deployment = DEPLOYMENTS[f"setka-{component}"]
        (container,) = containers_of(deployment)
        (password,) = [v for v in container["env"] if v["name"] == "KAFKA_SASL_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": f"setka-{component}", "key": "password"}
        assert f"setka-{component}" in BY_KIND["KafkaUser"]
        mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        ca = volumes[mounted["/etc/setka/kafka-ca"]]["secret"]
        assert ca["secretName"] == "setka-kafka-cluster-ca-cert"
    tls = BY_KIND["Kafka"]["setka-kafka"]["spec"]["kafka"]["listeners"]
    assert [(entry["port"], entry["tls"], entry["authentication"]["type"]) for entry in tls] == [
        (9093, True, "scram-sha-512")
    ]


def test_the_registry_and_events_read_the_snils_key_from_the_secret_and_analytics_does_not() -> None:
    for component in ("registry", "events"):
        (container,) = containers_of(DEPLOYMENTS[f"setka-{component}"])
        (key,) = [v for v in container["env"] if v["name"] == "SNILS_HMAC_KEY"]
        assert key["valueFrom"]["secretKeyRef"] == {"name": "setka-secrets", "key": "SNILS_HMAC_KEY"}
        assert environment_of(component)["SNILS_HMAC_KEY"] == SECRETS["SNILS_HMAC_KEY"]
    assert "SNILS_HMAC_KEY" not in environment_of("analytics")
    placeholder = (K8S / "base" / "secret.yaml").read_text(encoding="utf-8")
    assert "--from-literal=SNILS_HMAC_KEY=" in placeholder and "#   SNILS_HMAC_KEY " in placeholder


def test_no_secret_value_is_committed() -> None:
    assert "Secret" not in BY_KIND
    for path in K8S.rglob("*.yaml"):
        for document in load_documents(path):
            if document["kind"] == "Secret":
                assert not document.get("data") and not document.get("stringData"), path


# -- Kafka: topics and users from the code's declaration -----------------------------------------------


def test_every_declared_topic_is_a_kafka_topic_with_its_declared_configuration() -> None:
    declared = {spec.name: spec for spec in topics.DECLARED}
    resources = {t["spec"]["topicName"]: t["spec"] for t in BY_KIND["KafkaTopic"].values()}
    assert set(resources) == set(declared)
    for name, spec in declared.items():
        resource = resources[name]
        assert resource["partitions"] == spec.partitions
        config = {key: str(value) for key, value in resource["config"].items()}
        assert config == spec.config(resource["replicas"]), name
    for topic in BY_KIND["KafkaTopic"].values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "setka-kafka"


def allowed(user: str, resource: str, name: str, operation: str) -> bool:
    for rule in BY_KIND["KafkaUser"][user]["spec"]["authorization"]["acls"]:
        target = rule["resource"]
        if target["type"] != resource or operation not in rule["operations"]:
            continue
        pattern = target.get("patternType", "literal")
        if (pattern == "literal" and target["name"] in (name, "*")) or (
            pattern == "prefix" and name.startswith(target["name"])
        ):
            return True
    return False


@pytest.mark.parametrize("component", ["registry", "events", "analytics"])
def test_each_service_user_may_do_what_the_service_does_and_no_more(component: str) -> None:
    user = f"setka-{component}"
    for topic in PUBLISHES[component]:
        assert allowed(user, "topic", topic, "Write"), topic
    for topic in CONSUMES[component]:
        assert allowed(user, "topic", topic, "Read"), topic
        assert allowed(user, "topic", topics.dead_letter(topic), "Write"), topics.dead_letter(topic)
    if CONSUMES[component]:
        assert allowed(user, "group", f"setka.{component}", "Read")
    for spec in topics.DECLARED:
        assert allowed(user, "topic", spec.name, "Describe"), spec.name
        assert not allowed(user, "topic", spec.name, "Create")
        if spec.name not in PUBLISHES[component] | PURGES[component] and spec.name not in {
            topics.dead_letter(t) for t in CONSUMES[component]
        }:
            assert not allowed(user, "topic", spec.name, "Write"), f"{user} may write {spec.name}"
        if spec.name not in PURGES[component]:
            assert not allowed(user, "topic", spec.name, "Delete"), f"{user} may delete from {spec.name}"
    others = {"registry", "events", "analytics"} - {component}
    assert not any(allowed(user, "group", f"setka.{other}", "Read") for other in others)


def test_the_registry_may_purge_an_erased_persons_dead_letters() -> None:
    """The purge after an erasure reads, writes again and deletes records of every .dlq topic
    (on Apache Kafka): the registry's user is given each operation on each topic by its name,
    with no wider pattern, and on nothing else (no group: it reads without one)."""
    rules = BY_KIND["KafkaUser"]["setka-registry"]["spec"]["authorization"]["acls"]
    literal = {
        (rule["resource"]["name"], operation)
        for rule in rules
        if rule["resource"]["type"] == "topic" and rule["resource"].get("patternType") == "literal"
        for operation in rule["operations"]
    }
    needed = {(name, op) for name in deadletters.purged_topics() for op in deadletters.PURGE_OPERATIONS}
    assert needed <= literal, sorted(needed - literal)
    assert {"Read", "Write", "Delete", "Describe"} == set(deadletters.PURGE_OPERATIONS)
    assert set(deadletters.purged_topics()) == {s.name for s in topics.DECLARED if s.kind == "dead-letter"}
    wider = [
        r for r in rules if r["resource"].get("patternType") == "prefix" and r["operations"] != ["Describe"]
    ]
    assert wider == [], "beyond Describe, the registry's user is given topics by name only"
    assert not any(r["resource"]["type"] != "topic" for r in rules), "no group, no cluster operation"


# -- who may talk to whom ----------------------------------------------------------------------------------

KAFKA_POD = {"strimzi.io/cluster": "setka-kafka", "strimzi.io/kind": "Kafka"}
STRANGER = {"app.kubernetes.io/name": "someone-else"}
POLICIES = list(BY_KIND["NetworkPolicy"].values())


def _peer_matches(peer: Mapping[str, Any], labels: Mapping[str, str] | None, namespace: str) -> bool:
    if "ipBlock" in peer:
        return labels is None  # an address outside the cluster
    if labels is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": namespace}
        if not labels_match(peer["namespaceSelector"], namespace_labels):
            return False
    elif namespace != "setka":
        return False
    return labels_match(peer.get("podSelector") or {}, labels)


def _rules_allow(
    rules: Iterable[Mapping[str, Any]], key: str, labels: Mapping[str, str] | None, namespace: str, port: int
) -> bool:
    for rule in rules:
        peers = rule.get(key)
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        if not peers or any(_peer_matches(peer, labels, namespace) for peer in peers):
            return True
    return False


def reachable(
    source: Mapping[str, str] | None,
    destination: Mapping[str, str] | None,
    port: int,
    *,
    source_namespace: str = "setka",
) -> bool:
    """Whether the NetworkPolicies let ``source`` open a connection to ``destination`` (pod labels in
    namespace setka, or None: an address outside the cluster), as Kubernetes evaluates them."""
    if source is not None and source_namespace == "setka":
        egress = [
            p
            for p in POLICIES
            if "Egress" in p["spec"]["policyTypes"] and labels_match(p["spec"]["podSelector"], source)
        ]
        if egress and not any(
            _rules_allow(p["spec"].get("egress", []), "to", destination, "setka", port) for p in egress
        ):
            return False
    if destination is not None:
        ingress = [
            p
            for p in POLICIES
            if "Ingress" in p["spec"]["policyTypes"] and labels_match(p["spec"]["podSelector"], destination)
        ]
        if ingress and not any(
            _rules_allow(p["spec"].get("ingress", []), "from", source, source_namespace, port)
            for p in ingress
        ):
            return False
    return True


def test_only_the_gateway_reaches_the_services() -> None:
    pods = {component: pod_labels(DEPLOYMENTS[f"setka-{component}"]) for component in COMPONENTS}
    for service in ("registry", "events", "analytics"):
        port = COMPONENTS[service]
        assert reachable(pods["gateway"], pods[service], port), f"gateway → {service}"
        assert not reachable(STRANGER, pods[service], port), f"another pod → {service}"
        assert not reachable(None, pods[service], port), f"outside → {service}"
        for other in {"registry", "events", "analytics"} - {service}:
            assert not reachable(pods[other], pods[service], port), f"{other} → {service}"
        assert reachable(STRANGER, pods[service], port, source_namespace="monitoring"), "Prometheus"
    assert reachable(None, pods["gateway"], 8000) and reachable(STRANGER, pods["gateway"], 8000)
    assert not reachable(pods["registry"], pods["gateway"], 8000)
    # the workspace is a client of the gateway like any portal: never of a service
    assert reachable(pods["portal"], pods["gateway"], 8000) and reachable(None, pods["portal"], 8010)
    for service in ("registry", "events", "analytics"):
        assert not reachable(pods["portal"], pods[service], COMPONENTS[service]), f"portal → {service}"
    assert not reachable(pods["portal"], KAFKA_POD, 9093) and not reachable(pods["portal"], None, 5432)


def test_the_services_reach_kafka_and_postgresql_and_the_gateway_does_not() -> None:
    pods = {component: pod_labels(DEPLOYMENTS[f"setka-{component}"]) for component in COMPONENTS}
    for service in ("registry", "events", "analytics"):
        assert reachable(pods[service], KAFKA_POD, 9093), f"{service} → Kafka"
        assert reachable(pods[service], None, 5432), f"{service} → PostgreSQL"
        assert not reachable(pods[service], None, 443), f"{service} → the internet"
    assert not reachable(pods["gateway"], KAFKA_POD, 9093)
    assert not reachable(pods["gateway"], None, 5432)
    peers = BY_KIND["Kafka"]["setka-kafka"]["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    assert not any(labels_match(peer["podSelector"], pods["gateway"]) for peer in peers)
    assert all(
        any(labels_match(peer["podSelector"], pods[s]) for peer in peers)
        for s in ("registry", "events", "analytics")
    )


def test_the_scaling_rule_is_written_down() -> None:
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    assert "Scaling consumers by partitions" in readme
    assert "maxReplicas" in readme and "partitions" in readme
