import { Field, InputType } from "type-graphql";
import { ConnectorKind } from "./connector.entity.js";

@InputType()
export class CreateConnectorInput {
  @Field(() => ConnectorKind)
  kind!: ConnectorKind;

  @Field({ description: "1 to 200 characters" })
  name!: string;

  @Field({ description: "http(s) URL of the Odoo or Moodle server" })
  baseUrl!: string;
}
