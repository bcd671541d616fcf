//! Header names, ports and fixed texts of the E2B wire protocol (docs/protocol.md#headers,
//! docs/protocol.md#edge-proxy-errors).

/// Control-plane API key header (sent as `X-API-KEY`; HTTP header names are case-insensitive).
pub const API_KEY: &str = "x-api-key";
/// envd access token, sent on envd requests and on `POST /execute`.
pub const ACCESS_TOKEN: &str = "x-access-token";
/// Routing headers used when every sandbox request goes to one base URL (`E2B_SANDBOX_URL`).
pub const SANDBOX_ID: &str = "e2b-sandbox-id";
pub const SANDBOX_PORT: &str = "e2b-sandbox-port";
/// Traffic token for non-envd ports of sandboxes without public traffic.
pub const TRAFFIC_ACCESS_TOKEN: &str = "e2b-traffic-access-token";
/// Connect deadline header, in milliseconds.
pub const CONNECT_TIMEOUT_MS: &str = "connect-timeout-ms";
/// Keepalive interval requested from envd on streams, in seconds.
pub const KEEPALIVE_PING_INTERVAL: &str = "keepalive-ping-interval";
/// 2.63.0 retry control on control-plane responses.
pub const SHOULD_RETRY: &str = "should-retry";
/// Cursor of `GET /v2/sandboxes`.
pub const NEXT_TOKEN: &str = "x-next-token";

/// Port of envd inside a sandbox.
pub const ENVD_PORT: u16 = 49983;
/// Port of the code-interpreter server inside a sandbox.
pub const JUPYTER_PORT: u16 = 49999;

/// The envd version the local runtime reports (unlocks every SDK feature gate,
/// docs/protocol.md#version-gates).
pub const ENVD_VERSION: &str = "0.6.13";
/// Constant `clientID` of the reference API.
pub const CLIENT_ID: &str = "6532622b";

/// Exact proxy message for an unknown sandbox; 2.63.0 derives `SandboxNotRunningException`
/// from the substring `was not found`.
pub const SANDBOX_NOT_FOUND_MESSAGE: &str = "The sandbox was not found";
/// Exact proxy message for a running sandbox whose port does not answer.
pub const PORT_NOT_OPEN_MESSAGE: &str = "The sandbox is running but port is not open";
