# Vigil roles for distributed mode (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin bin
COPY platform platform
COPY schemas schemas
COPY ingest ingest
COPY processors processors
COPY query-api query-api
COPY alerts alerts
COPY anomaly anomaly
COPY migrations migrations
COPY demo demo
COPY bench bench
COPY scripts scripts
COPY ui ui
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV VIGIL_HOST=0.0.0.0 NODE_ENV=production
ENTRYPOINT ["node", "dist/bin/vigil.js"]
