import { Field, InputType, ObjectType } from "type-graphql";
import { User } from "../user/user.entity.js";

@InputType({ description: "Credentials of a tenant user" })
export class LoginInput {
  @Field({ description: "The tenant's slug" })
  tenant!: string;

  @Field()
  email!: string;

  @Field()
  password!: string;
}

@ObjectType({ description: "A signed-in session" })
export class AuthPayload {
  @Field({ description: "Short-lived access JWT (EdDSA); send as `Authorization: Bearer <token>`" })
  accessToken!: string;

  @Field()
  tokenType!: string;

  @Field()
  expiresAt!: Date;

  @Field(() => User)
  user!: User;
}
