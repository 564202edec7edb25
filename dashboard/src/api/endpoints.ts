// The public graph, on the origin that served the dashboard (the gateway): HTTP and graphql-ws on /graphql.
export const GRAPHQL_URL = new URL("/graphql", window.location.origin).toString();
export const GRAPHQL_WS_URL = GRAPHQL_URL.replace(/^http/, "ws");
