# One image for every Setka process; the command chooses which one runs:
#   python -m gateway serve                       (the default)
#   python -m services.registry serve             (likewise services.events, services.analytics)
#   python -m services.<name> migrate | seed      (operator one-shots)
#   python -m gateway token --role regional_admin (prints a signed JWT)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app:/app/contracts:/app/runtime

WORKDIR /app

# Third-party dependencies first, pinned and hashed: a change of source reuses this layer.
COPY requirements.prod.lock ./
RUN pip install --require-hashes --no-deps -r requirements.prod.lock

COPY contracts contracts
COPY runtime runtime
COPY services services
COPY gateway gateway
# The composed supergraph the gateway executes (make supergraph writes it; a test keeps it fresh).
COPY supergraph.graphql ./
RUN python -m compileall -q contracts runtime services gateway

# An unprivileged user; var/ is only written when a service falls back to its SQLite default.
RUN groupadd --system --gid 10001 setka \
    && useradd --system --uid 10001 --gid setka --no-create-home --home-dir /app setka \
    && mkdir -p /app/var && chown setka:setka /app/var
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

CMD ["python", "-m", "gateway", "serve"]
