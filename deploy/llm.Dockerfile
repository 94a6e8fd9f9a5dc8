# agent-streams/llm: the embedded default model server, llama.cpp's OpenAI-compatible server
# (llama-cpp-python). The model is NOT in the image: mount the models/ folder read-only at
# /models (make models fetches it) and pick the file with MODEL_FILE.
#
#   docker build -f deploy/llm.Dockerfile -t agent-streams/llm:latest deploy
#   docker run --rm -p 127.0.0.1:8081:8081 -v "$PWD/models:/models:ro" agent-streams/llm:latest
#
# llama-cpp-python ships only a source package: it compiles here (~160 s on 2 idle cores).
# CPU features are chosen, not detected: AVX2 + FMA + F16C (x86-64-v3: every x86 server and
# laptop CPU since 2013-15), so the image runs on any such machine. GGML_NATIVE would build for
# the building CPU and, on a VM that lists AMX, crash with SIGILL at the first request (AMX
# `tilezero` in libggml-cpu, seen on this project's machines). GGML_CPU_ARGS overrides, e.g.
# --build-arg GGML_CPU_ARGS="-DGGML_NATIVE=ON" for a build tuned to the host.
# Runtime knobs: MODEL_FILE, MODEL_ALIAS (default: MODEL_FILE without .gguf), LLM_THREADS,
# LLM_THREADS_BATCH (default: LLM_THREADS), LLM_CTX, LLM_PORT, LLM_EXTRA_ARGS.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ARG LLAMA_CPP_PYTHON_VERSION=0.3.36
ARG GGML_CPU_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# No LLaVA (vision) and no OpenMP: faster to build, and OpenMP's spinning threads made the
# 2-thread speed collapse whenever another process took a core.
ENV CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_OPENMP=OFF ${GGML_CPU_ARGS}"
RUN python -m venv /opt/llm \
    && start=$(date +%s) \
    && /opt/llm/bin/pip install --no-cache-dir --disable-pip-version-check \
        "llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION}" \
    && echo "llama-cpp-python compiled and installed in $(( $(date +%s) - start )) s" \
    && /opt/llm/bin/python -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__)"

FROM ${BASE_IMAGE}
COPY --from=build /opt/llm /opt/llm
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin llm
USER 10001:10001
ENV PATH=/opt/llm/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MODEL_FILE=qwen2.5-coder-1.5b.gguf \
    LLM_THREADS=2 \
    LLM_CTX=4096 \
    LLM_PORT=8081 \
    MALLOC_ARENA_MAX=2
EXPOSE 8081
# /v1/models answers as soon as the model is loaded (about 1 s after start).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/v1/models' % os.environ.get('LLM_PORT', '8081'), timeout=4)"]
CMD ["sh", "-c", "test -r \"/models/$MODEL_FILE\" || { echo \"llm: /models/$MODEL_FILE not found: mount the models/ folder (make models)\" >&2; exit 66; }; exec python -m llama_cpp.server --model \"/models/$MODEL_FILE\" --model_alias \"${MODEL_ALIAS:-${MODEL_FILE%.gguf}}\" --host 0.0.0.0 --port \"$LLM_PORT\" --n_ctx \"$LLM_CTX\" --n_threads \"$LLM_THREADS\" --n_threads_batch \"${LLM_THREADS_BATCH:-$LLM_THREADS}\" $LLM_EXTRA_ARGS"]
