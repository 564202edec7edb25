import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { parse, type GraphQLSchema } from "graphql";
import { buildSchema, createResolversMap, type BuildSchemaOptions } from "type-graphql";
import { authChecker } from "./auth.js";

const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@inaccessible"])';

type ReferenceResolver = (reference: any, context: any, info: any) => unknown;

/**
 * Builds a federation 2 subgraph schema from type-graphql resolvers (code-first). Entities resolvable here pass a
 * `__resolveReference` per type name; it lives beside its entity's resolver.
 */
export async function buildFederatedSchema(
  options: Omit<BuildSchemaOptions, "skipCheck" | "authChecker">,
  referenceResolvers: Record<string, ReferenceResolver> = {},
): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    ...options,
    authChecker,
    authMode: "error",
    // Subscriptions here use their own `subscribe` functions over the kernel PubSub; type-graphql's is never used.
    pubSub: {
      publish: () => {
        throw new Error("type-graphql pubSub is not used; publish through the kernel PubSub");
      },
      subscribe: () => {
        throw new Error("type-graphql pubSub is not used; use a `subscribe` function");
      },
    },
    validate: false,
    skipCheck: true,
  });
  const resolvers = createResolversMap(schema) as Record<string, any>;
  for (const [typeName, resolve] of Object.entries(referenceResolvers)) {
    resolvers[typeName] = { ...(resolvers[typeName] ?? {}), __resolveReference: resolve };
  }
  return buildSubgraphSchema([
    { typeDefs: parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`), resolvers },
  ]);
}
