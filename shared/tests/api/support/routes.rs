//! The route table of the tests: every HTTP route with its method, path template, function
//! (as named in `[workspace.metadata.lambda.watch.router]` of the workspace `Cargo.toml`),
//! the handler that function runs (`steel_core::handlers::<module>::handle`) and the state
//! the function builds for it (a field of `States`; a wrong one does not compile). This is the one
//! place that pairs a route with its handler; `TestApp` dispatches every request through it,
//! and `routes::the_table_is_the_router` checks it against `Cargo.toml`.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{Context, LambdaEvent};
use steel_core::handlers;
use steel_core::runtime;

use super::app::States;
use super::openapi::{match_template, template_rank};

macro_rules! routes {
    ($($route:ident: $method:literal $template:literal => $function:literal, $module:ident, $state:ident;)*) => {
        /// A route the API serves.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Route {
            $($route),*
        }

        impl Route {
            pub const ALL: &[Route] = &[$(Route::$route),*];

            pub fn method(self) -> &'static str {
                match self {
                    $(Route::$route => $method),*
                }
            }

            /// The path template, `{name}` for a variable segment.
            pub fn template(self) -> &'static str {
                match self {
                    $(Route::$route => $template),*
                }
            }

            /// The Lambda function serving the route.
            pub fn function(self) -> &'static str {
                match self {
                    $(Route::$route => $function),*
                }
            }

            /// The module of `steel_core::handlers` whose `handle` the function runs.
            pub fn handler_module(self) -> &'static str {
                match self {
                    $(Route::$route => stringify!($module)),*
                }
            }

            /// Runs `event` through the real adapter into the route's handler with the state
            /// its function builds, as the function's Lambda runtime loop would.
            pub async fn serve(
                self,
                states: &States,
                event: ApiGatewayV2httpRequest,
            ) -> ApiGatewayV2httpResponse {
                let event = LambdaEvent::new(event, Context::default());
                // Boxed: unboxed, this future is as large as the largest handler's, and a
                // debug build's test thread (2 MiB of stack) overflowed on it.
                match self {
                    $(Route::$route => {
                        Box::pin(runtime::handle_event(
                            &states.$state,
                            event,
                            handlers::$module::handle,
                        ))
                        .await
                    })*
                }
            }
        }
    };
}

routes! {
    Login: "POST" "/auth/login" => "login", login, login;
    Refresh: "POST" "/auth/refresh" => "refresh", refresh, app;
    Logout: "POST" "/auth/logout" => "logout", logout, app;
    Register: "POST" "/devices/register" => "register", register, app;
    RemoveDevice: "DELETE" "/devices/{device_id}" => "remove-device", remove_device, app;
    State: "GET" "/vault/state" => "state", state, app;
    Push: "POST" "/vault/push" => "push", push, vault;
    Confirm: "POST" "/vault/push/confirm" => "confirm", confirm, write;
    Pull: "POST" "/vault/pull" => "pull", pull, vault;
    Packs: "POST" "/vault/packs" => "packs", packs, vault;
    Bulk: "POST" "/vault/bulk" => "bulk", bulk, write;
    BulkConfirm: "POST" "/vault/bulk/confirm" => "bulk", bulk, write;
    Delete: "POST" "/vault/delete" => "delete", delete, write;
    History: "GET" "/vault/history" => "history", history, app;
    Deleted: "GET" "/vault/deleted" => "deleted", deleted, app;
    Restore: "POST" "/vault/restore" => "restore", restore, write;
    Keys: "GET" "/vault/keys" => "keys", keys, app;
    PutKeys: "PUT" "/vault/keys" => "keys", keys, app;
    Migration: "GET" "/vault/migration" => "migration", migration, write;
    StartMigration: "POST" "/vault/migration" => "migration", migration, write;
    AbandonMigration: "DELETE" "/vault/migration" => "migration", migration, write;
    StageMigration: "POST" "/vault/migration/stage" => "migration", migration, write;
    SwitchMigration: "POST" "/vault/migration/switch" => "migration", migration, write;
    Account: "GET" "/account" => "account", account, app;
    DeleteAccount: "DELETE" "/account" => "delete-account", delete_account, account;
}

impl Route {
    /// `METHOD template`, as API Gateway's `routeKey`.
    pub fn key(self) -> String {
        format!("{} {}", self.method(), self.template())
    }

    /// The route of a concrete request and the values of its template's variables: as the
    /// router and API Gateway choose, an exact path first, then the most specific template.
    pub fn of(method: &str, path: &str) -> Option<(Route, BTreeMap<String, String>)> {
        Route::ALL
            .iter()
            .filter(|r| r.method().eq_ignore_ascii_case(method))
            .filter_map(|r| {
                Some((
                    template_rank(r.template()),
                    *r,
                    match_template(r.template(), path)?,
                ))
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, route, values)| (route, values))
    }
}

/// `(METHOD, path template)` → function, from `[workspace.metadata.lambda.watch.router]` of
/// the workspace `Cargo.toml` (what `make dev` routes by).
pub fn cargo_router() -> BTreeMap<(String, String), String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("root Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml parses");
    let table = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut out = BTreeMap::new();
    for (route, targets) in table {
        for target in targets.as_array().expect("route targets") {
            let method = target["method"]
                .as_str()
                .expect("method")
                .to_ascii_uppercase();
            let function = target["function"].as_str().expect("function").to_owned();
            assert!(
                out.insert((method.clone(), route.clone()), function)
                    .is_none(),
                "{method} {route} routed twice"
            );
        }
    }
    out
}
