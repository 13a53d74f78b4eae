# syntax=docker/dockerfile:1
# One image for every Setka process; the command chooses which one runs:
#   python -m gateway serve                       (the default)
#   python -m services.registry serve             (likewise services.events, services.analytics)
#   setka status | migrate | topics create | …    (the operator's command, deploy/OPERATIONS.md)
#   setka token issue --role regional_admin --region 39 (prints a signed JWT)
#
# The base image is pinned by its exact version and by the digest of its multi-architecture
# index. That digest is the one public repositories record for python:3.11.14-slim-bookworm; it
# was not fetched from the registry here (this machine has no registry access). CI with network
# access checks it: `docker buildx imagetools inspect python:3.11.14-slim-bookworm` must show it,
# and a deliberate upgrade changes the tag and the digest together, in both stages.

# -- build: the pinned, hashed third-party dependencies in a virtual environment -------------------
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
COPY requirements.prod.lock /tmp/requirements.prod.lock
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.prod.lock

# The operator's command, as [project.scripts] would install it (setka = operations.cli:main).
RUN printf '#!/opt/venv/bin/python\nfrom operations.cli import main\n\nmain()\n' > /opt/venv/bin/setka \
    && chmod 0755 /opt/venv/bin/setka

# GraphiQL's browser files (GraphiQL, React, ReactDOM), which the gateway serves itself, no CDN:
# the exact npm tarballs tools/graphql/package-lock.json pins, checked against its integrity hashes
# (gateway/graphiql.py holds them, a unit test keeps them equal to the lock), 1.5 MB. GraphiQL is
# off in production; they are in the image so that GATEWAY_GRAPHIQL=true works on a closed network.
COPY gateway/graphiql.py /tmp/setka_graphiql.py
RUN /opt/venv/bin/python /tmp/setka_graphiql.py fetch /opt/graphiql

# -- runtime: the environment and the project's code, nothing else --------------------------------
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime

ENV PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app:/app/contracts:/app/runtime

COPY --from=build /opt/venv /opt/venv
# where a checkout has them after `npm ci` (gateway/graphiql.py looks there)
COPY --from=build /opt/graphiql /app/tools/graphql/node_modules

WORKDIR /app
COPY contracts contracts
COPY runtime runtime
COPY services services
COPY gateway gateway
COPY operations operations
# The composed supergraph the gateway executes (make supergraph writes it; a test keeps it fresh).
COPY supergraph.graphql ./
RUN python -m compileall -q contracts runtime services gateway operations

# pg_dump and pg_restore of the PostgreSQL release compose runs, for `setka backup` and `restore`.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user; var/ is only written when a service falls back to its SQLite default,
# /backups is where `setka backup` writes in Compose (a volume takes its owner from here).
RUN groupadd --system --gid 10001 setka \
    && useradd --system --uid 10001 --gid setka --no-create-home --home-dir /app setka \
    && mkdir -p /app/var/documents /backups && chown -R setka:setka /app/var /backups
USER 10001:10001

# Inside a container every process listens on all interfaces (the defaults are loopback), and the
# gateway is in production: it refuses to start with the development JWT secret.
ENV GATEWAY_ENVIRONMENT=production \
    GATEWAY_HOST=0.0.0.0 \
    REGISTRY_HOST=0.0.0.0 \
    EVENTS_HOST=0.0.0.0 \
    ANALYTICS_HOST=0.0.0.0

# gateway, registry, events, analytics
EXPOSE 8000 8001 8002 8003

# Alive: the process this container serves (PID 1's command: the gateway or a service) answers
# /healthz on its port. A one-shot (migrate, seed, setka …) has nothing to probe and is healthy.
# Compose and Kubernetes add readiness (/readyz) on top.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request\nargs = open('/proc/1/cmdline', 'rb').read().decode().split('\\0')\nports = {'gateway': 8000, 'registry': 8001, 'events': 8002, 'analytics': 8003}\nname = next((a.rpartition('.')[2] for a in args if a == 'gateway' or a.startswith('services.')), None)\nif name not in ports or 'serve' not in args:\n    sys.exit(0)\nport = os.environ.get(name.upper() + '_PORT') or ports[name]\nurllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)\n"]

CMD ["python", "-m", "gateway", "serve"]
