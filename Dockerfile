# sharpeyes daemon image. Build: docker build -t sharpeyes .  Run: see README ("Run in a container").
FROM python:3.11-slim-bookworm

# ffmpeg is not needed at run time (PyAV wheels carry their own libraries); ca-certificates for rtsps/https cameras.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /var/lib/sharpeyes --create-home sharpeyes
WORKDIR /opt/sharpeyes
COPY pyproject.toml README.md ./
COPY sharpeyes ./sharpeyes
COPY probes ./probes
RUN pip install --no-cache-dir . && mkdir -p /etc/sharpeyes && cp -r probes /etc/sharpeyes/probes

USER sharpeyes
WORKDIR /var/lib/sharpeyes
EXPOSE 9753
ENTRYPOINT ["tini", "--", "sharpeyes"]
CMD ["run", "--config", "/etc/sharpeyes/sharpeyes.yml"]
