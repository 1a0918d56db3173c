# The videoai code location image: the Dagster gRPC code server, and the same code for run and
# step pods, the Dagster webserver/daemon and `videoai relay` in docker-compose.
FROM python:3.11.11-slim-bookworm

# ffmpeg encodes the variants; the faster-whisper models ship inside wheels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home
WORKDIR /opt/videoai

# Dependencies first, from the lock file alone: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY orchestration ./orchestration
COPY pipeline ./pipeline
COPY assets ./assets
COPY sensors ./sensors
COPY resources ./resources
COPY serving_api ./serving_api
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev && python -m pipeline.speech_models install

RUN useradd --create-home --uid 10001 videoai && mkdir -p /opt/dagster/home && chown videoai /opt/dagster/home
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
USER videoai

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "orchestration.definitions", "-h", "0.0.0.0", "-p", "4000"]
