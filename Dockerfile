# さくら市ボット: the bot and the city folder it runs, for any container engine.
#
#   docker build -t sakura-bot .
#   docker run -p 8080:8080 -e BOT_SECRET_KEY=... -v /srv/city:/city -v bot-data:/data sakura-bot
#
# The city folder (/city: flows/, dictionaries/, tests/conversations/) is a volume: staff edit
# it on the host and the bot picks changes up (flows reload; `docker kill -s HUP` at once).
# A fresh volume starts as the sample city (`bot init`). The database and the development key
# live in /data. See docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BOT_ENV=production \
    BOT_HOST=0.0.0.0 \
    BOT_PORT=8080 \
    BOT_FLOWS=/city/flows \
    BOT_DB=/data/bot.db \
    BOT_CACHE_DIR=/opt/sakura-bot/cache

# A user of its own: the bot never runs as root.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /data --shell /usr/sbin/nologin bot

WORKDIR /opt/sakura-bot/src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY bot ./bot
COPY flows ./flows
COPY dictionaries ./dictionaries
COPY tests/conversations ./tests/conversations
RUN pip install . \
    && rm -rf /opt/sakura-bot/src

# The sample city, and the Sudachi user dictionary built from it now rather than at the
# first start (a city with other words gets its own built once, into the same cache).
RUN bot init /city \
    && bot nlu --flows /city/flows 粗大ごみを出したい > /dev/null \
    && ls /opt/sakura-bot/cache/*.dic \
    && mkdir -p /data \
    && chown -R bot:bot /city /data /opt/sakura-bot/cache

USER bot
WORKDIR /data
VOLUME ["/city", "/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('BOT_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

CMD ["bot", "serve"]
