# clinicflow's image: built in one stage, run from a slim one without compilers or pip's
# cache, as an unprivileged user. Static files and the translation catalogues are part of
# the package (the catalogues are compiled in memory at first use, so nothing is built at
# run time that is not in the image).

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/clinicflow
COPY pyproject.toml README.md ./
COPY src ./src
# Every dependency ships wheels for this platform, so no compiler is needed even here.
RUN /opt/clinicflow/bin/pip install --no-cache-dir . \
    && /opt/clinicflow/bin/python -m compileall -q /opt/clinicflow/lib

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/clinicflow/bin:$PATH \
    CLINICFLOW_VAR_DIR=/var/lib/clinicflow
RUN groupadd --system --gid 10001 clinicflow \
    && useradd --system --uid 10001 --gid clinicflow --home-dir /var/lib/clinicflow \
       --create-home --shell /usr/sbin/nologin clinicflow
COPY --from=build /opt/clinicflow /opt/clinicflow
USER 10001:10001
WORKDIR /var/lib/clinicflow
VOLUME ["/var/lib/clinicflow"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
CMD ["clinicflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
