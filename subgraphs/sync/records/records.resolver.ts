import { GraphQLJSONObject } from "graphql-scalars";
import { Arg, Authorized, Ctx, Field, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from "type-graphql";
import { forkForTenant } from "../../../kernel/tenancy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import type { SyncContext } from "../context.js";
import { Collection } from "./collection.entity.js";
import { MAX_PULL_LIMIT, watchRecords } from "./records.service.js";
import { CreateCollectionInput, PullResult, PushChangesInput, PushResult, RecordsBatch } from "./records.types.js";

@ObjectType()
class PulledItem {
  @Field()
  collection!: string;

  @Field(() => GraphQLJSONObject)
  document!: Record<string, unknown>;
}

@ObjectType()
class PullPage extends PullResult {
  @Field(() => [PulledItem], { description: "The same changes with their collection, for multi-collection pulls" })
  items!: PulledItem[];
}

@Resolver()
export class RecordsResolver {
  @Authorized("tenant:manage")
  @Mutation(() => Collection, { description: "Defines a collection (optionally with a JSON Schema)." })
  async createCollection(@Arg("input", () => CreateCollectionInput) input: CreateCollectionInput, @Ctx() ctx: SyncContext): Promise<Collection> {
    const collection = await ctx.records.createCollection(ctx.em, requirePrincipal(ctx), input);
    await ctx.audit.record(ctx, { action: "collection.created", targetType: "Collection", targetId: collection.id, changes: { name: { after: collection.name } } });
    return collection;
  }

  @Authorized()
  @Query(() => [Collection])
  collections(@Ctx() ctx: SyncContext): Promise<Collection[]> {
    return ctx.em.find(Collection, {}, { orderBy: { name: "asc" } });
  }

  @Authorized("sync:push")
  @Mutation(() => PushResult, { description: "Pushes changes as compare-and-set rows; conflicts come back with the server's state." })
  pushChanges(@Arg("input", () => PushChangesInput) input: PushChangesInput, @Ctx() ctx: SyncContext): Promise<PushResult> {
    return ctx.records.push(ctx.em, requirePrincipal(ctx), input);
  }

  @Authorized("sync:pull")
  @Query(() => PullPage, { description: "Changes after a checkpoint (null: from the start), in commit order." })
  pullChanges(
    @Arg("collections", () => [String]) collections: string[],
    @Arg("checkpoint", () => String, { nullable: true }) checkpoint: string | null,
    @Arg("limit", () => Int, { defaultValue: 100, description: `1 to ${MAX_PULL_LIMIT}` }) limit: number,
    @Ctx() ctx: SyncContext,
  ): Promise<PullPage> {
    return ctx.records.pull(ctx.em, requirePrincipal(ctx), collections, checkpoint, limit);
  }

  @Authorized("sync:pull")
  @Subscription(() => RecordsBatch, {
    description: "Live change batches after a checkpoint (null: from the start); resume with the last batch's checkpoint.",
    subscribe: ({ args, context }) => {
      const ctx = context as SyncContext;
      const principal = requirePrincipal(ctx);
      return watchRecords(ctx.records, ctx.records.pubsub, () => forkForTenant(ctx.records.orm, principal.tenantId), principal, args.collections, args.checkpoint ?? null);
    },
  })
  recordsChanged(
    @Arg("collections", () => [String]) _collections: string[],
    @Arg("checkpoint", () => String, { nullable: true }) _checkpoint: string | null,
    @Root() batch: RecordsBatch,
  ): RecordsBatch {
    return batch;
  }
}
