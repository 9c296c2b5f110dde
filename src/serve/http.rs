//! The connection loop: accept, read one request, parse it with `httparse`, answer, close.
//!
//! One thread, one request at a time (`Connection: close`); a request that needs to wait (a
//! `?seconds=N` delta) is parked with its connection and answered when its time is up, while
//! other requests go on. Every read and write has a timeout, so a slow client delays the
//! others by at most [`IO_TIMEOUT`]. A panic while answering is caught and answered 500.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::endpoints::{self, Answer, Delta, State};

/// The longest a client may take to send its request or read the answer.
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest request head read (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Most headers parsed.
const MAX_HEADERS: usize = 64;

/// An answer: status, content type, body.
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) body: Vec<u8>,
}

impl Response {
    pub(super) fn ok(content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type,
            body,
        }
    }

    /// An error: `status` and a one-line plain-text body.
    pub(super) fn error(status: u16, message: &str) -> Response {
        let mut body = message.replace(['\r', '\n'], " ").into_bytes();
        body.push(b'\n');
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes `response` and closes the connection; a client that went away is not an error.
pub(super) fn respond(mut stream: TcpStream, response: &Response) {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&response.body))
        .and_then(|()| stream.flush());
}

/// A parsed request: method, path and query (without `?`).
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) query: String,
}

/// Reads and parses one request head; `Err` is the answer to a bad one (`None`: the client
/// went away, nothing to answer).
fn read_request(stream: &mut TcpStream) -> Result<Request, Option<Response>> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        let Some(free) = buf.get_mut(len..) else {
            return Err(Some(Response::error(431, "request head too large")));
        };
        if free.is_empty() {
            return Err(Some(Response::error(431, "request head too large")));
        }
        let n = match stream.read(free) {
            Ok(0) => return Err(None),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Some(Response::error(408, "request not received in time")));
            }
            Err(_) => return Err(None),
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf.get(..len).unwrap_or(&[])) {
            Ok(httparse::Status::Complete(_)) => {
                let target = req.path.unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                return Ok(Request {
                    method: req.method.unwrap_or("").to_string(),
                    path: path.to_string(),
                    query: query.to_string(),
                });
            }
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(Some(Response::error(400, &format!("bad request: {e}")))),
        }
    }
}

/// Serves on `listener` for the rest of the process. Runs on the internal thread.
pub(super) fn run(listener: TcpListener) {
    if let Err(e) = listener.set_nonblocking(true) {
        eprintln!("allocscope: HTTP server stopped: {e}");
        return;
    }
    let mut state = State::default();
    let mut pending: Vec<Parked> = Vec::new();
    loop {
        // Wait for a connection, or for the first parked delta to be due.
        let now = Instant::now();
        let timeout_ms = pending
            .iter()
            .map(|p| p.delta.due.saturating_duration_since(now))
            .min()
            .map_or(-1, |d| d.as_millis().min(60_000) as libc::c_int + 1);
        let mut fds = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `fds` is one valid pollfd on our stack for the duration of the call.
        unsafe { libc::poll(&mut fds, 1, timeout_ms) };
        loop {
            match listener.accept() {
                Ok((stream, _)) => serve_one(stream, &mut state, &mut pending),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Out of file descriptors or the like: let it pass, do not spin.
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
        let now = Instant::now();
        let mut i = 0;
        while i < pending.len() {
            if pending.get(i).is_some_and(|p| p.delta.due <= now) {
                let Parked { stream, delta } = pending.swap_remove(i);
                let response = guarded(|| endpoints::finish_delta(&mut state, *delta));
                respond(stream, &response);
            } else {
                i += 1;
            }
        }
    }
}

/// Runs `f`, turning a panic into a 500 answer.
fn guarded(f: impl FnOnce() -> Response) -> Response {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Response::error(500, "internal error while answering"))
}

/// A connection waiting for its delta's end.
struct Parked {
    stream: TcpStream,
    delta: Box<Delta>,
}

fn serve_one(mut stream: TcpStream, state: &mut State, pending: &mut Vec<Parked>) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    let request = match read_request(&mut stream) {
        Ok(r) => r,
        Err(Some(response)) => return respond(stream, &response),
        Err(None) => return,
    };
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        endpoints::route(state, &request, pending.len())
    }))
    .unwrap_or_else(|_| Answer::Now(Response::error(500, "internal error while answering")));
    match answer {
        Answer::Now(response) => respond(stream, &response),
        Answer::Later(delta) => pending.push(Parked { stream, delta }),
    }
}
