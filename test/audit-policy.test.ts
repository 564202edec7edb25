// "Nothing unaudited" (issue 6, item 2): every mutation of every subgraph declares its audit policy, @Audited with
// the action it records or @NotAudited with a reason; and audit records carry the client (ip, user agent, parsed
// browser and OS) in their metadata.
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GraphQLSchema } from "graphql";
import { Arg, buildSchema, Mutation, Query, Resolver } from "type-graphql";
import { SUBGRAPHS } from "../bin/subgraphs.js";
import { AUDIT_ACTION_PATTERN, Audited, NotAudited, mutationAuditPolicies, type MutationAuditPolicy } from "../kernel/audit-policy.js";
import { AuditRecorder, clientMetadata, parseUserAgent } from "../kernel/audit.js";
import type { AuditRecord } from "../kernel/topics.js";
import { startTestStack, type TenantLogin, type TestStack } from "./harness/stack.js";

const ROOT = join(import.meta.dirname, "..");

const CHROME_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

/** The subgraph's own source (not tests), for checking declared actions against what the code records. */
function sourceFiles(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path, text: readFileSync(path, "utf8") };
    });
}

const actionsOf = (p: MutationAuditPolicy): string[] => (p.policy && "action" in p.policy ? [p.policy.action, ...(p.policy.also ?? [])] : []);

describe("audit policy: every mutation of every subgraph declares one", () => {
  const policies = new Map<string, MutationAuditPolicy[]>();

  beforeAll(async () => {
    for (const subgraph of SUBGRAPHS) {
      const schema: GraphQLSchema = await subgraph.buildSchema();
      policies.set(subgraph.name, mutationAuditPolicies(schema));
    }
  });

  it("walks the mutations of all four subgraphs", () => {
    expect([...policies.keys()].sort()).toEqual(["audit", "connectors", "sync", "tenants"]);
    const names = [...policies.values()].flat().map((p) => p.mutation);
    // The walk sees real mutations of each service that has any (a walk that saw nothing would prove nothing).
    expect(names).toEqual(expect.arrayContaining(["login", "createRole", "suspendTenant", "createConnector", "startSyncRun", "pushChanges"]));
    expect(names.length).toBeGreaterThanOrEqual(33);
  });

  it("no mutation lacks a policy (offenders are named)", () => {
    const offenders = [...policies].flatMap(([subgraph, list]) =>
      list.filter((p) => !p.policy).map((p) => `${subgraph}: ${p.mutation}${p.resolver ? ` (${p.resolver})` : ""}: ${p.problem}`),
    );
    expect(offenders).toEqual([]);
  });

  it("declared actions look like noun.verb or noun.sub.verb, and each subgraph's primary actions are unique", () => {
    for (const [subgraph, list] of policies) {
      const malformed = list.flatMap((p) => actionsOf(p).filter((a) => !AUDIT_ACTION_PATTERN.test(a)).map((a) => `${subgraph}: ${p.mutation}: ${a}`));
      expect(malformed).toEqual([]);
      const primary = list.flatMap((p) => (p.policy && "action" in p.policy ? [p.policy.action] : []));
      const duplicates = primary.filter((a, i) => primary.indexOf(a) !== i).map((a) => `${subgraph}: ${a}`);
      expect(duplicates).toEqual([]);
    }
  });

  it("every declared action is one the subgraph's code records (a string literal in a file that calls audit.record)", () => {
    const missing: string[] = [];
    for (const [subgraph, list] of policies) {
      // The declarations themselves do not count as evidence.
      const files = sourceFiles(join(ROOT, "subgraphs", subgraph)).map((f) => ({ ...f, text: f.text.replace(/@Audited\([^)]*\)/g, "") }));
      for (const p of list) {
        for (const action of actionsOf(p)) {
          const recorded = files.some((f) => f.text.includes(`"${action}"`) && /\baudit\.record\(/.test(f.text));
          if (!recorded) missing.push(`${subgraph}: ${p.mutation} declares "${action}", which its code never records`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("every @NotAudited reason says something", () => {
    const skipped = [...policies.values()].flat().flatMap((p) => (p.policy && "skip" in p.policy ? [p] : []));
    for (const p of skipped) expect((p.policy as { skip: string }).skip.length).toBeGreaterThanOrEqual(10);
  });
});

describe("audit policy: the decorators and the walk can fail", () => {
  it("a mutation without a policy is reported by name", async () => {
    @Resolver()
    class ProbeResolver {
      @Query(() => Boolean)
      probeQuery(): boolean {
        return true;
      }

      @Audited("probe.audited")
      @Mutation(() => Boolean)
      probeAuditedMutation(): boolean {
        return true;
      }

      @NotAudited("probe: nothing changes here")
      @Mutation(() => Boolean)
      probeSkippedMutation(): boolean {
        return true;
      }

      @Mutation(() => Boolean)
      probeForgottenMutation(@Arg("x") _x: string): boolean {
        return true;
      }
    }
    const schema = await buildSchema({ resolvers: [ProbeResolver], validate: false, authChecker: () => true });
    const byName = Object.fromEntries(mutationAuditPolicies(schema).map((p) => [p.mutation, p]));
    expect(byName.probeAuditedMutation?.policy).toEqual({ action: "probe.audited" });
    expect(byName.probeSkippedMutation?.policy).toEqual({ skip: "probe: nothing changes here" });
    expect(byName.probeForgottenMutation?.policy).toBeUndefined();
    expect(byName.probeForgottenMutation?.problem).toMatch(/neither @Audited nor @NotAudited/);
  });

  it("declaring both, or a malformed action, or no reason, fails when the class is defined", () => {
    expect(() => {
      class Both {
        @Audited("thing.done")
        @NotAudited("but also not audited")
        both(): void {}
      }
      return Both;
    }).toThrow(/more than once/);
    expect(() => Audited("Thing Done")).toThrow(/noun\.verb/);
    expect(() => Audited("thing")).toThrow(/noun\.verb/);
    expect(() => Audited("a.b.c.d")).toThrow(/noun\.verb/);
    expect(() => Audited("thing.done", "bad action")).toThrow(/noun\.verb/);
    expect(() => NotAudited("  ")).toThrow(/reason/);
    expect(() => Audited("auth.login.failed")).not.toThrow();
    expect(() => Audited("sync.run.status_changed")).not.toThrow();
  });
});

describe("audit records: the client's user agent parsed into browser and OS", () => {
  it("maps well-known user agents to browser and OS names with versions", () => {
    expect(parseUserAgent(CHROME_WINDOWS)).toEqual({ browser: "Chrome 120.0.0.0", os: "Windows 10" });
    expect(parseUserAgent(FIREFOX_UBUNTU)).toEqual({ browser: "Firefox 121.0", os: "Ubuntu" });
    expect(parseUserAgent(SAFARI_IPHONE)).toEqual({ browser: "Mobile Safari 17.2", os: "iOS 17.2" });
    // A second parse of the same agent (served from the cache) answers the same.
    expect(parseUserAgent(CHROME_WINDOWS)).toEqual({ browser: "Chrome 120.0.0.0", os: "Windows 10" });
  });

  it("leaves browser and OS null for agents that name none, and for no agent", () => {
    expect(parseUserAgent("curl/8.5.0")).toEqual({ browser: null, os: null });
    expect(parseUserAgent("tributary-system")).toEqual({ browser: null, os: null });
    expect(parseUserAgent(undefined)).toEqual({ browser: null, os: null });
    expect(clientMetadata({})).toEqual({ ip: null, userAgent: null, browser: null, os: null });
    expect(clientMetadata({ ip: "203.0.113.9", userAgent: FIREFOX_UBUNTU })).toEqual({
      ip: "203.0.113.9",
      userAgent: FIREFOX_UBUNTU,
      browser: "Firefox 121.0",
      os: "Ubuntu",
    });
  });

  describe("AuditRecorder", () => {
    // The outbox write is replaced by a tap: the record as the recorder built it, and the EntityManager it went through.
    const published: AuditRecord[] = [];
    const through: unknown[] = [];
    const recorder = new AuditRecorder({ write: async (em, record) => void (through.push(em), published.push(record)) });
    const em = { name: "the caller's EntityManager" } as never;
    const principal = { kind: "user", userId: "00000000-0000-4000-8000-000000000001", tenantId: "00000000-0000-4000-8000-0000000000aa" } as never;
    const last = () => published[published.length - 1]!;

    it("puts ip, userAgent, browser and OS into metadata and keeps the caller's keys", async () => {
      await recorder.record(
        { principal, em, requestId: "req-00000001", client: { ip: "198.51.100.7", userAgent: SAFARI_IPHONE } },
        { action: "role.created", metadata: { name: "auditors", usersAffected: 3 } },
      );
      expect(last().metadata).toEqual({
        ip: "198.51.100.7",
        userAgent: SAFARI_IPHONE,
        browser: "Mobile Safari 17.2",
        os: "iOS 17.2",
        name: "auditors",
        usersAffected: 3,
      });
      expect(last()).toMatchObject({ action: "role.created", actorType: "USER", tenantId: "00000000-0000-4000-8000-0000000000aa" });
    });

    it("a caller's own ip or userAgent wins over the context's, and browser and OS follow the agent that is kept", async () => {
      await recorder.record(
        { principal, em, requestId: "req-00000002", client: { ip: "10.0.0.1", userAgent: CHROME_WINDOWS } },
        { action: "auth.login.failed", metadata: { ip: "203.0.113.9", userAgent: FIREFOX_UBUNTU, reason: "bad_password" } },
      );
      expect(last().metadata).toEqual({ ip: "203.0.113.9", userAgent: FIREFOX_UBUNTU, browser: "Firefox 121.0", os: "Ubuntu", reason: "bad_password" });
    });

    it("a context without a client adds no client keys; a service actor is still named", async () => {
      await recorder.record({ principal, em, requestId: "req-00000003" }, { action: "api_key.revoked" });
      expect(last().metadata).toBeNull();
      await recorder.record({ em, requestId: "req-00000004" }, { tenantId: "00000000-0000-4000-8000-0000000000aa", action: "auth.api_key.used", metadata: { ip: "192.0.2.4" } });
      expect(last().metadata).toEqual({ ip: "192.0.2.4", userAgent: null, browser: null, os: null });
      await recorder.record(
        { serviceActor: "cli", em, requestId: "req-00000005", client: { userAgent: "tributary-system" } },
        { tenantId: "00000000-0000-4000-8000-0000000000aa", action: "user.roles.assigned" },
      );
      expect(last()).toMatchObject({ actorType: "SERVICE", metadata: { ip: null, userAgent: "tributary-system", browser: null, os: null, service: "cli" } });
      // Every record went through the caller's EntityManager (so it joins the caller's transaction, if any).
      expect(through).toHaveLength(published.length);
      for (const e of through) expect(e).toBe(em);
    });

    it("a platform-only action (no tenant) records nothing", async () => {
      const before = published.length;
      await recorder.record({ em, requestId: "req-00000006", platform: { kind: "platform", userId: "00000000-0000-4000-8000-000000000002" } as never }, { action: "platform.user.created" });
      expect(published).toHaveLength(before);
    });
  });
});

describe("audit records through the gateway carry the caller's browser and OS", () => {
  let t: TestStack;
  let admin: TenantLogin;
  // What the tenants service recorded: its audit outbox keeps each record as the recorder built it (delivered or not).
  const recorded = async (): Promise<AuditRecord[]> =>
    (await t.stack.tenants.orm.em.fork().getConnection().execute<{ payload: AuditRecord }[]>(`select "payload" from "tenants"."audit_outbox" order by "created_at"`)).map(
      (r) => r.payload,
    );

  beforeAll(async () => {
    t = await startTestStack();
    admin = await t.tenant("ua-audit");
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("a mutation whose resolver sets no client metadata still records ip, user agent, browser and OS", async () => {
    const res = await t.raw(
      JSON.stringify({ query: 'mutation { createRole(input: { name: "ua-probe", permissions: ["sync:pull"] }) { id } }' }),
      { authorization: `Bearer ${admin.token}`, "user-agent": CHROME_WINDOWS },
    );
    expect(res.body.errors).toBeUndefined();
    const roleId = res.body.data.createRole.id as string;
    const event = (await recorded()).find((r) => r.action === "role.created" && r.targetId === roleId);
    expect(event).toBeDefined();
    expect(event!.metadata).toMatchObject({ userAgent: CHROME_WINDOWS, browser: "Chrome 120.0.0.0", os: "Windows 10" });
    // The gateway saw a loopback client (no trusted proxy here): whatever it was, it is an address, not null.
    expect(typeof event!.metadata!.ip).toBe("string");
  });

  it("a failed login records the parsed agent too", async () => {
    const res = await t.raw(
      JSON.stringify({ query: 'mutation { login(input: { tenant: "ua-audit", email: "nobody@ua-audit.example", password: "wrong-password-1" }) { accessToken } }' }),
      { "user-agent": FIREFOX_UBUNTU },
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const event = (await recorded()).find((r) => r.action === "auth.login.failed" && r.metadata?.email === "nobody@ua-audit.example");
    expect(event?.metadata).toMatchObject({ userAgent: FIREFOX_UBUNTU, browser: "Firefox 121.0", os: "Ubuntu", reason: "unknown_user" });
  });
});
