import { GraphQLJSONObject } from "graphql-scalars";
import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from "type-graphql";
import { Audited, NotAudited } from "../../../kernel/audit-policy.js";
import { requirePrincipal } from "../../../kernel/auth.js";
import { UserRef } from "../sync-log/refs.js";
import type { SyncContext } from "../context.js";
import type { Caller } from "./access.js";
import { Collection } from "./collection.entity.js";
import { Conflict, ConflictResolution, ConflictStatus } from "./conflict.entity.js";
import { listClients, listConflicts, recordHistory, resetClient, resolveConflict } from "./records-admin.js";
import { listRecords, MAX_RECORDS_PAGE, MAX_SEARCH_LENGTH } from "./records-list.js";
import { MAX_PULL_LIMIT } from "./records.service.js";
import {
  ConflictPage,
  CreateCollectionInput,
  PullResult,
  PushChangesInput,
  PushResult,
  RecordHistoryPage,
  RecordPage,
  RecordsBatch,
  SyncClientPage,
} from "./records.types.js";
import { SyncClient } from "./sync-client.entity.js";

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

/** The verified caller, as forwarded when sync asks the tenants service about their grants. */
export function callerOf(ctx: SyncContext): Caller {
  return { principal: requirePrincipal(ctx), authorization: ctx.authorization, requestId: ctx.requestId };
}

@Resolver()
export class RecordsResolver {
  @Authorized("tenant:manage")
  @Audited("collection.created")
  @Mutation(() => Collection, { description: "Defines a collection (optionally with a JSON Schema)." })
  async createCollection(@Arg("input", () => CreateCollectionInput) input: CreateCollectionInput, @Ctx() ctx: SyncContext): Promise<Collection> {
    // The collection and its audit event commit together (the event goes to this service's audit outbox).
    return ctx.em.transactional(async (tx) => {
      const collection = await ctx.records.createCollection(tx, requirePrincipal(ctx).tenantId, input);
      await ctx.audit.record(
        { ...ctx, em: tx },
        {
          action: "collection.created",
          targetType: "Collection",
          targetId: collection.id,
          changes: { name: { after: collection.name }, primaryKey: { after: collection.primaryKey }, conflictStrategy: { after: collection.conflictStrategy } },
        },
      );
      return collection;
    });
  }

  @Authorized()
  @Query(() => [Collection])
  collections(@Ctx() ctx: SyncContext): Promise<Collection[]> {
    return ctx.em.find(Collection, {}, { orderBy: { name: "asc" } });
  }

  @Authorized("sync:push")
  @NotAudited("record data, not configuration: every pushed change is kept as a version in the record history (recordHistory: changed fields, who, when, device or run)")
  @Mutation(() => PushResult, { description: "Pushes changes as compare-and-set rows; conflicts come back with the server's state." })
  pushChanges(@Arg("input", () => PushChangesInput) input: PushChangesInput, @Ctx() ctx: SyncContext): Promise<PushResult> {
    return ctx.records.push(ctx.em, callerOf(ctx), input);
  }

  @Authorized("sync:pull")
  @Query(() => PullPage, { description: "Changes after a checkpoint (null: from the start), in commit order." })
  pullChanges(
    @Arg("collections", () => [String]) collections: string[],
    @Arg("checkpoint", () => String, { nullable: true }) checkpoint: string | null,
    @Arg("limit", () => Int, { defaultValue: 100, description: `1 to ${MAX_PULL_LIMIT}` }) limit: number,
    @Arg("clientId", () => String, { nullable: true, description: "The device pulling (listed in syncClients; resettable)" }) clientId: string | null,
    @Ctx() ctx: SyncContext,
  ): Promise<PullPage> {
    // Documents stay JSON text (RawJson) from the database to the response: the server's stringifier splices them in
    // (kernel/http.ts), so a page is never parsed into objects and serialised again. The GraphQL type is unchanged.
    return ctx.records.pull(ctx.em, callerOf(ctx), collections, checkpoint, limit, clientId, { raw: true }) as Promise<PullPage>;
  }

  @Authorized("sync:pull")
  @Subscription(() => RecordsBatch, {
    description: "Live change batches after a checkpoint (null: from the start); resume with the last batch's checkpoint.",
    subscribe: ({ args, context }) =>
      (context as SyncContext).feeds.open(callerOf(context as SyncContext), args.collections, args.checkpoint ?? null, args.fromNow === true),
  })
  recordsChanged(
    @Arg("collections", () => [String]) _collections: string[],
    @Arg("checkpoint", () => String, { nullable: true }) _checkpoint: string | null,
    @Arg("fromNow", () => Boolean, {
      defaultValue: false,
      description:
        "Without a checkpoint: start with the changes of the last 30 s instead of all, then live (for clients that catch up with pullChanges themselves, like RxDB)",
    })
    _fromNow: boolean,
    @Root() batch: RecordsBatch,
  ): RecordsBatch {
    return batch;
  }

  @Authorized("sync:pull")
  @Query(() => RecordPage, {
    description:
      "A collection's current records (deleted ones left out), in id order: the records pullChanges would deliver to the caller (canPull and row filters apply).",
  })
  records(
    @Arg("collection") collection: string,
    @Arg("search", () => String, {
      nullable: true,
      description: `Only records whose id or a top-level string or number value contains this text (case-insensitive, at most ${MAX_SEARCH_LENGTH} characters)`,
    })
    search: string | null,
    @Arg("first", () => Int, { defaultValue: 50, description: `1 to ${MAX_RECORDS_PAGE}` }) first: number,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page" }) after: string | null,
    @Ctx() ctx: SyncContext,
  ): Promise<RecordPage> {
    return listRecords(ctx.em, ctx.records, callerOf(ctx), { collection, search, first, after });
  }

  @Authorized("sync:pull")
  @Query(() => RecordHistoryPage, { description: "A record's versions, newest first: changed fields, who, when, from which device or run." })
  recordHistory(
    @Arg("collection") collection: string,
    @Arg("id") id: string,
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 200" }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: SyncContext,
  ): Promise<RecordHistoryPage> {
    return recordHistory(ctx.em, ctx.records, callerOf(ctx), { collection, id, first, after });
  }

  @Authorized("sync:pull")
  @Query(() => ConflictPage, { description: "Conflicts kept by the MANUAL strategy, newest first." })
  conflicts(
    @Arg("collection", () => String, { nullable: true }) collection: string | null,
    @Arg("status", () => ConflictStatus, { defaultValue: ConflictStatus.OPEN }) status: ConflictStatus,
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 200" }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: SyncContext,
  ): Promise<ConflictPage> {
    return listConflicts(ctx.em, ctx.records, callerOf(ctx), { collection, status, first, after });
  }

  @Authorized("sync:push")
  @Audited("conflict.resolved")
  @Mutation(() => Conflict, { description: "Settles an open conflict; KEEP_CLIENT and CUSTOM write a new version every client receives." })
  async resolveConflict(
    @Arg("id", () => ID) id: string,
    @Arg("resolution", () => ConflictResolution) resolution: ConflictResolution,
    @Arg("document", () => GraphQLJSONObject, { nullable: true, description: "The resolved document, for CUSTOM" }) document: Record<string, unknown> | null,
    @Ctx() ctx: SyncContext,
  ): Promise<Conflict> {
    // The resolution and its audit event commit together.
    return resolveConflict(ctx.em, ctx.records, callerOf(ctx), id, resolution, document, (tx, conflict) =>
      ctx.audit.record(
        { ...ctx, em: tx },
        {
          action: "conflict.resolved",
          targetType: "Conflict",
          targetId: conflict.id,
          changes: { status: { before: ConflictStatus.OPEN, after: conflict.status }, resolution: { after: resolution } },
          metadata: { collection: conflict.collection, documentId: conflict.documentId },
        },
      ),
    );

  }

  @Authorized("tenant:manage")
  @Query(() => SyncClientPage, { description: "Devices that sync with a clientId, most recently seen first." })
  syncClients(
    @Arg("first", () => Int, { defaultValue: 50, description: "1 to 200" }) first: number,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: SyncContext,
  ): Promise<SyncClientPage> {
    return listClients(ctx.em, ctx.records, { first, after });
  }

  @Authorized("tenant:manage")
  @Audited("sync.client.reset")
  @Mutation(() => SyncClient, { description: "Makes a device resync from scratch: its older checkpoints get CHECKPOINT_EXPIRED." })
  async resetClient(@Arg("clientId") clientId: string, @Ctx() ctx: SyncContext): Promise<SyncClient> {
    // The reset and its audit event commit together.
    return resetClient(ctx.em, ctx.records, requirePrincipal(ctx).tenantId, clientId, (tx) =>
      ctx.audit.record({ ...ctx, em: tx }, { action: "sync.client.reset", targetType: "SyncClient", targetId: null, metadata: { clientId } }),
    );
  }
}

@Resolver(() => Conflict)
export class ConflictResolver {
  @FieldResolver(() => UserRef, { nullable: true, description: "Who pushed the conflicting change (users only)" })
  createdBy(@Root() c: Conflict): UserRef | null {
    return { id: c.createdById };
  }

  @FieldResolver(() => UserRef, { nullable: true })
  resolvedBy(@Root() c: Conflict): UserRef | null {
    return c.resolvedById ? { id: c.resolvedById } : null;
  }
}

@Resolver(() => SyncClient)
export class SyncClientResolver {
  @FieldResolver(() => UserRef, { nullable: true, description: "The user last seen on this device" })
  user(@Root() c: SyncClient): UserRef | null {
    return c.userId ? { id: c.userId } : null;
  }
}
