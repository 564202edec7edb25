import { Field, InputType } from "type-graphql";
import { FieldConversion, SyncDirection } from "./mapping.entity.js";

@InputType()
export class FieldMappingInput {
  @Field({ description: "The document's field (letters, digits, _; at most 100)" })
  field!: string;

  @Field({ description: "The remote field (lower-case letters, digits, _)" })
  remote!: string;

  @Field(() => FieldConversion, { nullable: true, description: "Default NONE" })
  convert?: FieldConversion | null;
}

@InputType()
export class CreateMappingInput {
  @Field({ description: "Odoo model (`res.partner`) or Moodle record kind (`course`, `user`, `enrolment`)" })
  remoteModel!: string;

  @Field({ description: "The sync collection records land in" })
  collection!: string;

  @Field(() => [FieldMappingInput], { description: "1–200 fields" })
  fieldMap!: FieldMappingInput[];

  @Field(() => SyncDirection, { nullable: true, description: "Default INBOUND" })
  direction?: SyncDirection | null;

  @Field(() => String, { nullable: true, description: "Cron expression (UTC) of scheduled runs" })
  schedule?: string | null;
}

@InputType({ description: "Only the given fields change; `schedule: \"\"` removes the schedule." })
export class UpdateMappingInput {
  @Field(() => String, { nullable: true })
  collection?: string | null;

  @Field(() => [FieldMappingInput], { nullable: true })
  fieldMap?: FieldMappingInput[] | null;

  @Field(() => SyncDirection, { nullable: true })
  direction?: SyncDirection | null;

  @Field(() => String, { nullable: true })
  schedule?: string | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}
