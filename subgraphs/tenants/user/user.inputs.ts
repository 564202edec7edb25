import { Field, InputType, ObjectType } from "type-graphql";
import { PageInfo } from "../tenant/tenant.inputs.js";
import { User } from "./user.entity.js";

@InputType()
export class CreateUserInput {
  @Field()
  email!: string;

  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => [String], { defaultValue: ["USER"], description: "Role names" })
  roles!: string[];

  @Field(() => String, { nullable: true, description: "Set a password now (12–1024 characters), or omit to invite" })
  password?: string | null;
}

@ObjectType()
export class CreatedUser {
  @Field(() => User)
  user!: User;

  @Field(() => String, { nullable: true, description: "One-time invitation token (7 days), shown only now; send it to the user" })
  invitationToken?: string | null;
}

@InputType()
export class AcceptInvitationInput {
  @Field()
  token!: string;

  @Field({ description: "12 to 1024 characters" })
  password!: string;
}

@ObjectType()
export class UserPage {
  @Field(() => [User])
  nodes!: User[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
