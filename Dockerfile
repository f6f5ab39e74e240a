# The OpenPoint image: one image, three roles chosen by the command — `api` (the gateway, the
# default), `worker`, `migrate` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Installed as a regular (not editable) package; the source tree is not kept in the image.
COPY . /tmp/src
RUN pip install /tmp/src && rm -rf /tmp/src

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/openpoint \
        --shell /usr/sbin/nologin openpoint
USER openpoint
WORKDIR /var/lib/openpoint

# Listen on all interfaces inside the container; publishing the port decides who can reach it.
ENV OPENPOINT_HOST=0.0.0.0 \
    OPENPOINT_PORT=8080 \
    OPENPOINT_DATA_DIR=/var/lib/openpoint
EXPOSE 8080

ENTRYPOINT ["openpoint"]
CMD ["api"]
