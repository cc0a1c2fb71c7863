# campaign-sync: a slim, non-root image of the worker, with exactly the versions in uv.lock.
# It has no PostgreSQL server (the `embedded` extra is left out): point it at a server
# with CAMPAIGN_SYNC_DATABASE_URL. Build: docker build -t campaign-sync .

# Build stage: uv installs the locked dependencies and the project (as a wheel, not
# editable) into /opt/venv, which is all the final stage takes from here.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY worker ./worker
COPY migrations ./migrations
RUN uv sync --frozen --no-dev --no-editable

# Final stage: the same Python, the venv, a user without a home or a shell; no compilers,
# no uv, no pip cache. Bytecode is compiled above, so a read-only root filesystem works.
FROM python:3.11-slim
RUN groupadd --system --gid 10001 campaign-sync \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin campaign-sync
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CAMPAIGN_SYNC_LOG_FORMAT=json
# Numeric, so Kubernetes can check runAsNonRoot without a runAsUser.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["campaign-sync"]
CMD ["run", "--health-port", "8080"]
