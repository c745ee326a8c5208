# Minotaur: one image for every node of the cluster.
# Build: docker build -t minotaur .
# Run behind a TLS proxy (one hop): docker run -p 4000:4000 -e SECRET_KEY_BASE=... -e TRUST_PROXY=1 -v minotaur-data:/app/data minotaur
# Try it over plain HTTP on one machine: add -e COOKIE_SECURE=0 instead of TRUST_PROXY (production
# refuses secure cookies without a trusted proxy, and a browser drops them over plain HTTP).

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production PORT=4000 DATABASE_PATH=/app/data/minotaur.db
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY views ./views
COPY public ./public
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 4000
# 200 only when the node is ready; 503 while joining or draining. A lenient timeout: a node far
# over its capacity answers slowly but is alive (deploy/docker-stack.yml says more).
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:'+(process.env.PORT||4000)+'/health_check',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# tini forwards SIGTERM to node, which drains and exits 0.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
