//! `NativeServer`: an embedded server node. Options arrive as JSON (`Server.start(options)`).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use piazza_engine::config::ServerConfig;
use piazza_engine::hub::api::ApiRequest;
use piazza_engine::hub::room::AdminError;
use piazza_engine::protocol::RoomId;
use piazza_engine::server::Server;

use crate::error;
use crate::logging::Claim;

fn room_id(room: Either<u32, String>) -> RoomId {
    match room {
        Either::A(n) => RoomId::Num(n as u64),
        Either::B(s) => RoomId::Str(s),
    }
}

fn admin_error(e: &AdminError) -> napi::Error {
    napi::Error::from_reason(
        serde_json::json!({ "status": e.status, "admin": e.code, "reason": e.message }).to_string(),
    )
}

#[napi]
pub struct NativeServer {
    server: Server,
    /// The server's claim on the log level, given back when it has closed.
    log: parking_lot::Mutex<Option<Claim>>,
}

/// Starts a server; rejects with the error JSON when the options are bad or the port is taken.
#[napi]
pub async fn start_server(options_json: String) -> Result<NativeServer> {
    let config = ServerConfig::from_json(&options_json).map_err(|e| error::to_napi(&e))?;
    // Claimed before starting, so the start-up records are logged at the server's level.
    let log = Claim::new(config.log_level.as_deref(), config.log_format).map_err(|e| error::to_napi(&e))?;
    let server = Server::start(config).await.map_err(|e| error::to_napi(&e))?;
    Ok(NativeServer { server, log: parking_lot::Mutex::new(Some(log)) })
}

#[napi]
impl NativeServer {
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.server.url()
    }

    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.server.port() as u32
    }

    /// The stats as JSON.
    #[napi]
    pub fn stats(&self) -> String {
        serde_json::to_string(&self.server.stats()).expect("stats serialize")
    }

    /// TRTC RemoveUser: `room` is a number (roomId) or a string (strRoomId). Returns the result
    /// JSON, or throws `{"status","code","message"}` JSON.
    #[napi]
    pub fn remove_users(&self, app: String, room: Either<u32, String>, user_ids: Vec<String>) -> Result<String> {
        let room = room_id(room);
        self.server
            .remove_users(&app, &room, &user_ids)
            .map(|r| serde_json::to_string(&r).expect("serializes"))
            .map_err(|e| admin_error(&e))
    }

    /// TRTC DismissRoom.
    #[napi]
    pub fn dismiss_room(&self, app: String, room: Either<u32, String>) -> Result<String> {
        let room = room_id(room);
        self.server
            .dismiss_room(&app, &room)
            .map(|r| serde_json::to_string(&r).expect("serializes"))
            .map_err(|e| admin_error(&e))
    }

    /// One backend-API request (`piazza_engine::hub::api::ApiRequest` as JSON, tagged by `op`):
    /// the answer JSON, or a rejection with `{"status","admin","reason"}` JSON.
    #[napi]
    pub async fn api(&self, request_json: String) -> Result<String> {
        let request: ApiRequest = serde_json::from_str(&request_json)
            .map_err(|e| admin_error(&AdminError { status: 400, code: "InvalidParameter", message: e.to_string() }))?;
        let answer = self.server.hub().api(request, "server API").await.map_err(|e| admin_error(&e))?;
        Ok(answer.to_string())
    }

    /// Graceful close; idempotent.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.server.close().await;
        self.log.lock().take();
        Ok(())
    }
}
