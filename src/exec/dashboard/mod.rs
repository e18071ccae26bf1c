//! The live dashboard (feature `dashboard`): a small HTTP server on its own thread that
//! serves one self-contained page and the JSON state of the runtime's [observer](super::observe).
//!
//! It answers `GET /` (the page) and `GET /state.json` (the state) only: any other method is
//! refused with 405, any other path with 404, and nothing it serves can change a run. It
//! serves until its runtime is dropped.

use super::observe::Observer;
use crate::error::{Error, Result};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The page: HTML with inline CSS and JS, no external assets.
const PAGE: &str = include_str!("page.html");

/// A running dashboard server and the observer it shows.
pub(crate) struct Dashboard {
    observer: Arc<Observer>,
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// Resolves `addr` (`HOST:PORT`, or a bare port on loopback) to one socket address.
fn resolve(addr: &str) -> Result<SocketAddr> {
    let err = |detail: String| Error::Dashboard {
        addr: addr.to_string(),
        detail,
    };
    let text = if !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_digit()) {
        format!("127.0.0.1:{addr}")
    } else {
        addr.to_string()
    };
    text.to_socket_addrs()
        .map_err(|e| err(format!("not an address to listen on (HOST:PORT): {e}")))?
        .next()
        .ok_or_else(|| err("the host name resolves to no address".into()))
}

impl Dashboard {
    /// Binds `addr` and starts serving.
    ///
    /// # Errors
    /// [`Error::Dashboard`] naming the address when it is not one or cannot be bound (a port
    /// in use, a host that is not this machine's).
    pub(crate) fn start(addr: &str) -> Result<Dashboard> {
        let sock = resolve(addr)?;
        let server = tiny_http::Server::http(sock).map_err(|e| Error::Dashboard {
            addr: addr.to_string(),
            detail: format!("cannot listen there: {e}"),
        })?;
        let bound = server.server_addr().to_ip().unwrap_or(sock);
        let server = Arc::new(server);
        let observer = Arc::new(Observer::new());
        let thread = {
            let (server, observer) = (server.clone(), observer.clone());
            std::thread::Builder::new()
                .name("chunkwise-dashboard".into())
                .spawn(move || serve(&server, &observer))
                .map_err(|e| Error::Dashboard {
                    addr: addr.to_string(),
                    detail: format!("cannot start the server thread: {e}"),
                })?
        };
        Ok(Dashboard {
            observer,
            server,
            addr: bound,
            thread: Some(thread),
        })
    }

    pub(crate) fn observer(&self) -> &Arc<Observer> {
        &self.observer
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("internal: a constant header is valid")
}

/// What the server answers: status, content type and body.
pub(crate) fn respond(method: &str, url: &str, observer: &Observer) -> (u16, &'static str, String) {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let known = matches!(path, "/" | "/index.html" | "/state.json");
    match (method, known) {
        (_, false) => (
            404,
            "text/plain; charset=utf-8",
            format!("no such page: {path}\n"),
        ),
        ("GET", true) if path == "/state.json" => {
            (200, "application/json", observer.snapshot().to_string())
        }
        ("GET", true) => (200, "text/html; charset=utf-8", PAGE.to_string()),
        (m, true) => (
            405,
            "text/plain; charset=utf-8",
            format!("{m} is not allowed: the dashboard is read-only (GET)\n"),
        ),
    }
}

fn serve(server: &tiny_http::Server, observer: &Observer) {
    for req in server.incoming_requests() {
        let method = req.method().as_str().to_string();
        let (status, kind, body) = respond(&method, req.url(), observer);
        let mut resp = tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(header("Content-Type", kind))
            .with_header(header("Cache-Control", "no-store"))
            .with_header(header("X-Content-Type-Options", "nosniff"))
            .with_header(header(
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:",
            ));
        if status == 405 {
            resp = resp.with_header(header("Allow", "GET"));
        }
        // A client that went away is no error of the run.
        let _ = req.respond(resp);
    }
}
