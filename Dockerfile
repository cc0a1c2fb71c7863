# campaign-sync: a slim, non-root image of the worker. In production, point it at a
# PostgreSQL with CAMPAIGN_SYNC_DATABASE_URL; the embedded server is for laptops.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin worker
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
ENV PYTHONUNBUFFERED=1 \
    CAMPAIGN_SYNC_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["campaign-sync"]
CMD ["run", "--health-port", "8080"]
