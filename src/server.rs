//! `NativeServer`: an embedded server node. Options arrive as JSON (`Server.start(options)`).

use napi::bindgen_prelude::*;
use napi_derive::napi;
use piazza_engine::config::ServerConfig;
use piazza_engine::server::Server;

use crate::error;

#[napi]
pub struct NativeServer {
    server: Server,
}

/// Starts a server; rejects with the error JSON when the options are bad or the port is taken.
#[napi]
pub async fn start_server(options_json: String) -> Result<NativeServer> {
    let config = ServerConfig::from_json(&options_json).map_err(|e| error::to_napi(&e))?;
    let server = Server::start(config).await.map_err(|e| error::to_napi(&e))?;
    Ok(NativeServer { server })
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

    /// Graceful close; idempotent.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.server.close().await;
        Ok(())
    }
}
