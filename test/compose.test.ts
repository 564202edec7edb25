// Static checks of docker-compose.yml and the Dockerfile: no Docker engine is needed, so these run everywhere
// and catch the mistakes that otherwise only show up on `docker-compose up` (a typo'd service name in a URL,
// a port that does not match, an entry point that the build never produces).
import { describe, it, expect } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const composeFile = join(root, "docker-compose.yml");

type Healthcheck = { test?: string | string[]; disable?: boolean };
type Service = {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: Healthcheck;
  ports?: unknown[];
  volumes?: unknown[];
  container_name?: string;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

// `merge: true` resolves `<<: *anchor` the way Compose does (YAML 1.2 leaves merge keys off by default).
const compose = parse(readFileSync(composeFile, "utf8"), { merge: true }) as Compose;
const services = compose.services ?? {};
const names = Object.keys(services);

// The process contract: which entry point and port each Node service has.
const expectedNodeServices: Record<string, { entry: string; port: number }> = {
  tenants: { entry: "dist/subgraphs/tenants/main.js", port: 4101 },
  sync: { entry: "dist/subgraphs/sync/main.js", port: 4102 },
  connectors: { entry: "dist/subgraphs/connectors/main.js", port: 4103 },
  audit: { entry: "dist/subgraphs/audit/main.js", port: 4104 },
  gateway: { entry: "dist/gateway/main.js", port: 4000 },
};
const gatewayUrls: Record<string, string> = {
  TENANTS_URL: "tenants",
  SYNC_URL: "sync",
  CONNECTORS_URL: "connectors",
  AUDIT_URL: "audit",
};

/** Replaces `${VAR:-default}` / `${VAR-default}` with the default and `${VAR}` with "" (what Compose does with an empty env). */
function withDefaults(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? "");
}

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const i = entry.indexOf("=");
        return i < 0 ? [entry, ""] : [entry.slice(0, i), withDefaults(entry.slice(i + 1))];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, withDefaults(String(v ?? ""))]));
}

function commandArgs(service: Service): string[] {
  const cmd = service.command;
  if (cmd === undefined) return [];
  return Array.isArray(cmd) ? cmd.map(String) : cmd.trim().split(/\s+/);
}

/** Services built from this repo's Dockerfile, i.e. the Node services. */
const nodeServices = names.filter((n) => services[n].build !== undefined);

function dependsOn(service: Service): Record<string, { condition?: string }> {
  const deps = service.depends_on;
  if (deps === undefined) return {};
  // The short list form has no condition, which means "started", not "healthy".
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, {}]));
  return deps;
}

describe("docker-compose.yml", () => {
  it("defines the Node services of the process contract plus postgres and redis", () => {
    expect([...nodeServices].sort()).toEqual(Object.keys(expectedNodeServices).sort());
    expect(names).toEqual(expect.arrayContaining(["postgres", "redis"]));
  });

  it("gives every service a healthcheck that is not disabled", () => {
    for (const name of names) {
      const hc = services[name].healthcheck;
      expect({ name, hasTest: Boolean(hc?.test) && hc?.disable !== true }).toEqual({ name, hasTest: true });
      const test = Array.isArray(hc!.test) ? hc!.test : [hc!.test];
      expect({ name, test: test[0] }).not.toEqual({ name, test: "NONE" });
    }
  });

  it("has every Node healthcheck probe the service's own port", () => {
    for (const name of nodeServices) {
      const probe = ([] as string[]).concat(services[name].healthcheck?.test ?? []).join(" ");
      const port = envOf(services[name]).PORT;
      const probesOwnPort = probe.includes("process.env.PORT") || probe.includes(`127.0.0.1:${port}/`);
      expect({ name, probe, probesOwnPort }).toEqual({ name, probe, probesOwnPort: true });
      expect({ name, path: /\/(healthz|readyz)\b/.test(probe) }).toEqual({ name, path: true });
    }
  });

  it("probes the gateway's readiness (/readyz: 503 without a subgraph, 200 while only degraded by a Redis outage)", () => {
    const probe = ([] as string[]).concat(services.gateway?.healthcheck?.test ?? []).join(" ");
    expect(probe).toMatch(/\/readyz\b/);
    expect(probe).toMatch(/r\.ok/);
  });

  it("makes every depends_on target an existing service and waits for it to be healthy", () => {
    for (const name of names) {
      for (const [target, spec] of Object.entries(dependsOn(services[name]))) {
        expect({ name, target, exists: names.includes(target) }).toEqual({ name, target, exists: true });
        expect({ name, target, condition: spec?.condition }).toEqual({ name, target, condition: "service_healthy" });
      }
    }
  });

  it("has no depends_on cycle", () => {
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === "done") return;
      if (state.get(name) === "visiting") throw new Error(`depends_on cycle: ${[...path, name].join(" -> ")}`);
      state.set(name, "visiting");
      for (const target of Object.keys(dependsOn(services[name] ?? {}))) visit(target, [...path, name]);
      state.set(name, "done");
    };
    for (const name of names) visit(name, []);
  });

  it("orders start-up: subgraphs wait for the stores, the others for tenants (JWKS), the gateway for all subgraphs", () => {
    for (const name of ["tenants", "sync", "connectors", "audit"]) {
      expect({ name, deps: Object.keys(dependsOn(services[name])) }).toEqual({
        name,
        deps: expect.arrayContaining(["postgres", "redis"]),
      });
    }
    for (const name of ["sync", "connectors", "audit"]) {
      expect({ name, deps: Object.keys(dependsOn(services[name])) }).toEqual({
        name,
        deps: expect.arrayContaining(["tenants"]),
      });
    }
    expect(Object.keys(dependsOn(services.gateway))).toEqual(expect.arrayContaining(Object.values(gatewayUrls)));
  });

  it("runs each Node service from a dist/*.js whose TypeScript source exists", () => {
    const missing: string[] = [];
    for (const name of nodeServices) {
      const entry = commandArgs(services[name]).find((a) => /^(\.\/)?dist\/.+\.js$/.test(a));
      expect({ name, entry }).toEqual({ name, entry: expectedNodeServices[name]?.entry });
      // tsc (rootDir ".", outDir "dist") maps X.ts to dist/X.js.
      const source = entry!.replace(/^(\.\/)?dist\//, "").replace(/\.js$/, ".ts");
      if (!existsSync(join(root, source))) missing.push(`${name}: ${source}`);
    }
    // Listed all at once so one run shows every entry point the build would not produce.
    expect(missing).toEqual([]);
  });

  it("sets the common environment on every Node service", () => {
    for (const name of nodeServices) {
      const env = envOf(services[name]);
      expect({ name, PORT: env.PORT, HOST: env.HOST }).toEqual({
        name,
        PORT: String(expectedNodeServices[name]?.port),
        HOST: "0.0.0.0",
      });
      for (const key of ["DATABASE_URL", "REDIS_URL"]) {
        const host = new URL(env[key]).hostname;
        expect({ name, key, hostIsService: names.includes(host) }).toEqual({ name, key, hostIsService: true });
      }
      if (name !== "tenants") expect({ name, JWKS_URL: env.JWKS_URL }).toEqual({ name, JWKS_URL: expect.any(String) });
    }
  });

  it("points JWKS_URL at the tenants service on its port", () => {
    const tenantsPort = envOf(services.tenants).PORT;
    for (const name of nodeServices) {
      const jwks = envOf(services[name]).JWKS_URL;
      if (!jwks) continue;
      const url = new URL(jwks);
      expect({ name, host: url.hostname, port: url.port, path: url.pathname }).toEqual({
        name,
        host: "tenants",
        port: tenantsPort,
        path: "/.well-known/jwks.json",
      });
    }
  });

  it("points the gateway's four subgraph URLs at existing services on their ports", () => {
    const env = envOf(services.gateway);
    for (const [key, expectedService] of Object.entries(gatewayUrls)) {
      expect({ key, set: typeof env[key] === "string" && env[key] !== "" }).toEqual({ key, set: true });
      const url = new URL(env[key]);
      const target = services[url.hostname];
      expect({ key, host: url.hostname, exists: target !== undefined }).toEqual({
        key,
        host: expectedService,
        exists: true,
      });
      expect({ key, port: url.port, path: url.pathname }).toEqual({ key, port: envOf(target).PORT, path: "/graphql" });
    }
  });

  it("publishes ports only for the gateway, mapped to its PORT, and lets it scale", () => {
    const publishing = names.filter((n) => (services[n].ports ?? []).length > 0);
    expect(publishing).toEqual(["gateway"]);
    const gatewayPort = envOf(services.gateway).PORT;
    for (const mapping of services.gateway.ports ?? []) {
      // "host:container", "ip:host:container" or the long form { target, published }.
      const target =
        typeof mapping === "object" && mapping !== null
          ? String((mapping as { target?: unknown }).target)
          : withDefaults(String(mapping)).split(":").pop()!.split("/")[0];
      expect(target).toBe(gatewayPort);
    }
    expect(services.gateway.container_name).toBeUndefined();
  });

  it("declares every named volume it mounts", () => {
    for (const name of names) {
      for (const volume of services[name].volumes ?? []) {
        const source = typeof volume === "string" ? volume.split(":")[0] : String((volume as { source?: unknown }).source);
        if (/^[./~$]/.test(source)) continue; // bind mount
        expect({ name, source, declared: Object.keys(compose.volumes ?? {}).includes(source) }).toEqual({
          name,
          source,
          declared: true,
        });
      }
    }
    expect(services.postgres.volumes?.length ?? 0).toBeGreaterThan(0);
  });

  // Compose's own schema validation (interpolation, keys, merge keys) — only possible with the tool installed.
  const composeCli = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
  const haveComposeCli = !composeCli.error;
  const requireCli = process.env.CI === "true";
  (haveComposeCli || requireCli ? it : it.skip)("passes `docker-compose config -q`", () => {
    expect({ installed: haveComposeCli, hint: "apt-get install -y docker-compose" }).toEqual({
      installed: true,
      hint: expect.any(String),
    });
    const result = spawnSync("docker-compose", ["-f", composeFile, "config", "-q"], {
      cwd: root,
      encoding: "utf8",
      // No .env values leak into the check: defaults must be enough for a local start.
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
  });
});

/** Dockerfile instructions, with comments dropped and `\` continuations joined. */
function dockerfileInstructions(text: string): { op: string; args: string }[] {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\r?\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

type Stage = { name?: string; from: string; instructions: { op: string; args: string }[] };

function dockerfileStages(text: string): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of dockerfileInstructions(text)) {
    if (ins.op === "FROM") {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      const from = parts[0].replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, n) => args[n] ?? "");
      const asIndex = parts.findIndex((p) => p.toUpperCase() === "AS");
      stages.push({ from, name: asIndex >= 0 ? parts[asIndex + 1] : undefined, instructions: [] });
    } else if (stages.length === 0 && ins.op === "ARG") {
      const [name, value = ""] = ins.args.split("=");
      args[name] = value.replace(/^"|"$/g, "");
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { args, stages };
}

describe("Dockerfile", () => {
  const { stages } = dockerfileStages(readFileSync(join(root, "Dockerfile"), "utf8"));
  const final = stages[stages.length - 1];

  /** Follows `FROM <earlier stage>` so a USER/ENV set in a shared base stage counts. */
  function lineage(stage: Stage): Stage[] {
    const parent = stages.find((s) => s.name !== undefined && s.name === stage.from && s !== stage);
    return parent ? [...lineage(parent), stage] : [stage];
  }

  it("is multi-stage on node:22-bookworm-slim", () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(lineage(final)[0].from).toBe("node:22-bookworm-slim");
  });

  it("does not run the final stage as root", () => {
    const users = lineage(final)
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "USER")
      .map((i) => i.args.trim());
    const user = users[users.length - 1] ?? "root";
    expect(user.split(":")[0]).not.toMatch(/^(root|0|)$/);
  });

  it("copies dist/, node_modules, package.json and schema/ into the final stage", () => {
    const sources = final.instructions
      .filter((i) => i.op === "COPY" || i.op === "ADD")
      .flatMap((i) => {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith("--"));
        return parts.slice(0, -1); // the last one is the destination
      })
      .map((s) => s.replace(/^\.\//, "").replace(/\/$/, "").split("/").pop());
    expect(sources).toEqual(expect.arrayContaining(["dist", "node_modules", "package.json", "schema"]));
  });

  it("sets NODE_ENV=production in the final stage", () => {
    const env = lineage(final)
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).toMatch(/\bNODE_ENV[= ]"?production"?\b/);
  });

  it("installs production dependencies with `npm ci --omit=dev` in its own stage", () => {
    const prodStage = stages.find(
      (s) => s !== final && s.instructions.some((i) => i.op === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)),
    );
    expect(prodStage?.name).toBeDefined();
    const copiesModulesFromIt = final.instructions.some(
      (i) => i.op === "COPY" && i.args.includes(`--from=${prodStage!.name}`) && i.args.includes("node_modules"),
    );
    expect(copiesModulesFromIt).toBe(true);
  });
});
