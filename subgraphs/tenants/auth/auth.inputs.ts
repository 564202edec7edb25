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

  @Field({ description: "Rotating refresh token: exchange it with `refreshSession` for a new pair; each is usable once" })
  refreshToken!: string;

  @Field()
  refreshExpiresAt!: Date;

  @Field(() => User)
  user!: User;
}

@InputType()
export class ChangePasswordInput {
  @Field()
  currentPassword!: string;

  @Field({ description: "12 to 1024 characters" })
  newPassword!: string;
}

@InputType({ description: "Credentials of a platform operator" })
export class PlatformLoginInput {
  @Field()
  email!: string;

  @Field()
  password!: string;
}

@ObjectType({ description: "A signed-in platform operator session (no refresh token: sign in again)" })
export class PlatformAuthPayload {
  @Field()
  accessToken!: string;

  @Field()
  tokenType!: string;

  @Field()
  expiresAt!: Date;
}

@ObjectType()
export class SigningKeyRotation {
  @Field({ description: "The new signing key's id" })
  kid!: string;

  @Field(() => String, { nullable: true, description: "The retired key (still served in the JWKS until its tokens expire)" })
  retiredKid?: string | null;
}
