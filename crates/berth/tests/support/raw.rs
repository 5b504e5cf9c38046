//! Byte-exact HTTP/1.1 over a bare TCP socket, for request targets and framing that reqwest
//! would normalise or refuse: sending a request as written and reading the reply back.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::replies::check_error_reply;

/// A response read from a bare socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The checks of `expect_error`.
    pub fn expect_error(&self, what: &str, statuses: &[u16], codes: &[&str]) -> String {
        check_error_reply(
            what,
            self.status,
            self.header("content-type").unwrap_or_default(),
            &self.body,
            statuses,
            codes,
        )
    }
}

/// `data` in HTTP/1.1 chunked transfer coding, `piece` bytes a chunk, with the final chunk.
pub fn chunked_encoding(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / piece * 16 + 16);
    for chunk in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends one request byte-exact over a new TCP connection (`Connection: close`) and reads the
/// reply. `target` is sent as is, so dot segments and percent-escapes reach the server
/// untouched. A `Content-Length` is added for a non-empty body unless `headers` has one. With
/// `half_close` the write side is shut down after the body, so a short body ends in EOF.
pub async fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
    half_close: bool,
) -> std::io::Result<RawResponse> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    });
    if !has_length && (!body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // The server may answer (and close) before reading the whole body; that is its right.
    let _ = stream.write_all(body).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut reply)).await;
    match read {
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no reply within 30 s",
            ))
        }
        Ok(Err(e)) if reply.is_empty() => return Err(e),
        Ok(_) => {}
    }
    parse_raw_response(&reply)
}

fn parse_raw_response(reply: &[u8]) -> std::io::Result<RawResponse> {
    let invalid = |m: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{m}: {:?}", String::from_utf8_lossy(reply)),
        )
    };
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no header end"))?;
    let head = std::str::from_utf8(&reply[..end]).map_err(|_| invalid("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| invalid("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let raw_body = &reply[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(raw_body).ok_or_else(|| invalid("bad chunked body"))?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        raw_body[..len.min(raw_body.len())].to_vec()
    } else {
        raw_body.to_vec()
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
