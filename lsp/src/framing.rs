//! Message framing on stdio, in front of tower-lsp-server's transport: malformed input is
//! answered and skipped instead of ending the session.
//!
//! Why: tower-lsp-server's reader stops for good at the first frame it cannot decode (the
//! codec's error ends tokio-util's `FramedRead` stream, and its read loop ends with it), so
//! one garbage body would kill the server. Here every frame is checked first: a body that is
//! not JSON gets a Parse error (-32700), JSON that is not a JSON-RPC message an Invalid
//! Request error (-32600), a header block without a usable `Content-Length` a Parse error,
//! each with `id: null` as JSON-RPC 2.0 says; only well-formed messages reach the server.
//! The error answers are written between whole frames of the server's own output, so the
//! client's stream never desynchronises.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest body accepted; a larger one is read past and refused (it cannot be a document
/// worth analysing, and buffering it could exhaust memory).
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;
/// A header line this long is garbage, not a header.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// The pipes between the pumps and the server.
pub const PIPE_BYTES: usize = 64 * 1024;

/// One unit read from a framed stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Body(Vec<u8>),
    /// A header block (or an oversized body) that was skipped; the reason.
    Garbage(String),
    /// The end of the stream.
    End,
}

/// Reads the next frame: header lines up to an empty line, then `Content-Length` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Frame {
    let mut length: Option<usize> = None;
    let mut problem = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        match (&mut *reader).take(MAX_HEADER_LINE as u64).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Frame::End,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // Blank lines between frames are tolerated.
        }
        saw_header = true;
        // After garbage (a body of unknown length), the next frame's header may follow the
        // garbage on the same line: resynchronise on `Content-Length` wherever it starts.
        let text = match text.to_ascii_lowercase().find("content-length") {
            Some(at) => &text[at..],
            None => text,
        };
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => problem = Some(format!("invalid Content-Length `{}`", value.trim())),
                }
            }
        } else {
            problem = Some("a header line without `:`".to_string());
        }
    }
    let Some(length) = length else {
        return Frame::Garbage(problem.unwrap_or_else(|| "a header block without Content-Length".to_string()));
    };
    if length > MAX_BODY_BYTES {
        let skipped = tokio::io::copy(&mut (&mut *reader).take(length as u64), &mut tokio::io::sink()).await;
        return match skipped {
            Ok(n) if n == length as u64 => Frame::Garbage(format!("a {length}-byte message, over the limit")),
            _ => Frame::End,
        };
    }
    let mut body = vec![0; length];
    match reader.read_exact(&mut body).await {
        Ok(_) => Frame::Body(body),
        Err(_) => Frame::End,
    }
}

/// `Content-Length` framing of one body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The error answer for a body that is not a JSON-RPC message, if it is not one.
pub fn refusal(body: &[u8]) -> Option<Vec<u8>> {
    let (code, message) = match serde_json::from_slice::<serde_json::Value>(body) {
        Err(_) => (-32700, "Parse error"),
        Ok(_) if serde_json::from_slice::<Request>(body).is_ok() => return None,
        Ok(_) if serde_json::from_slice::<Response>(body).is_ok() => return None,
        Ok(_) => (-32600, "Invalid request"),
    };
    Some(error_body(code, message))
}

fn error_body(code: i64, message: &str) -> Vec<u8> {
    let error = serde_json::json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": null});
    error.to_string().into_bytes()
}

/// Copies well-formed frames from the client to the server; answers the others.
pub async fn pump_in<R: AsyncRead + Unpin>(input: R, mut server: DuplexStream, out: UnboundedSender<Vec<u8>>) {
    let mut reader = BufReader::new(input);
    loop {
        match read_frame(&mut reader).await {
            Frame::Body(body) => match refusal(&body) {
                None => {
                    if server.write_all(&frame(&body)).await.is_err() {
                        return; // The server has stopped reading (after `exit`).
                    }
                }
                Some(answer) => {
                    eprintln!("ospecc lsp: refused a malformed message ({} bytes)", body.len());
                    let _ = out.send(answer);
                }
            },
            Frame::Garbage(reason) => {
                eprintln!("ospecc lsp: skipped malformed input: {reason}");
                let _ = out.send(error_body(-32700, "Parse error"));
            }
            Frame::End => return,
        }
    }
}

/// Reads the server's output frame by frame into the output queue.
pub async fn pump_server_output(server: DuplexStream, out: UnboundedSender<Vec<u8>>) {
    let mut reader = BufReader::new(server);
    while let Frame::Body(body) = read_frame(&mut reader).await {
        if out.send(body).is_err() {
            return;
        }
    }
}

/// Writes queued bodies to the client, each as one whole frame, until every sender is gone.
pub async fn pump_out<W: AsyncWrite + Unpin>(mut queue: UnboundedReceiver<Vec<u8>>, mut output: W) {
    while let Some(body) = queue.recv().await {
        if output.write_all(&frame(&body)).await.is_err() || output.flush().await.is_err() {
            return; // The client went away.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8]) -> Vec<Frame> {
        let mut reader = BufReader::new(input);
        let mut out = Vec::new();
        loop {
            let frame = read_frame(&mut reader).await;
            let end = frame == Frame::End;
            out.push(frame);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn frames_resynchronise_after_garbage() {
        let input = b"Content-Length: 2\r\n\r\n{}garbage line\r\n\r\ncontent-length: 3\r\nContent-Type: x\r\n\r\n[1]";
        let found = frames(input).await;
        assert_eq!(found[0], Frame::Body(b"{}".to_vec()));
        assert!(matches!(found[1], Frame::Garbage(_)));
        assert_eq!(found[2], Frame::Body(b"[1]".to_vec()));
        assert_eq!(found[3], Frame::End);
        assert_eq!(frames(b"Content-Length: 10\r\n\r\nabc").await, vec![Frame::End], "a truncated body ends");
        let found = frames(b"Content-Length: x\r\n\r\nxxContent-Length: 2\r\n\r\n{}").await;
        assert!(matches!(found[0], Frame::Garbage(_)));
        assert_eq!(found[1], Frame::Body(b"{}".to_vec()), "resynchronised on the next header");
    }

    #[test]
    fn only_json_rpc_messages_pass() {
        assert_eq!(refusal(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#), None);
        assert_eq!(refusal(br#"{"jsonrpc":"2.0","method":"initialized"}"#), None);
        assert_eq!(refusal(br#"{"jsonrpc":"2.0","id":0,"result":null}"#), None);
        let parse = refusal(b"{not json").unwrap();
        assert!(String::from_utf8(parse).unwrap().contains("-32700"));
        let invalid = refusal(b"[]").unwrap();
        assert!(String::from_utf8(invalid).unwrap().contains("-32600"));
    }
}
