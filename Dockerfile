# syntax=docker/dockerfile:1
# Build stage: install lendgraph and its dependencies into a virtualenv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY api ./api
COPY domain ./domain
COPY tenants ./tenants
COPY integrations ./integrations
COPY workers ./workers
COPY lendgraph ./lendgraph
RUN /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

# Runtime stage: only the virtualenv, run as an unprivileged user.
FROM python:3.11-slim AS runtime
RUN groupadd --system lendgraph && useradd --system --gid lendgraph --home /app lendgraph
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    LENDGRAPH_ENV=production \
    LENDGRAPH_HOST=0.0.0.0 \
    LENDGRAPH_PORT=8000
WORKDIR /app
USER lendgraph
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["lendgraph", "serve"]
